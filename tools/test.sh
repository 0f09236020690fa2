#!/usr/bin/env bash
# Everything CI checks, in order; prints the time of each step and the total.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Every temporary file of the run (notebooks' scratch folders, pytest's tmp_path, compiled graphs) goes into one
# folder that is emptied after each step and removed when the run ends, passed or failed: repeated runs on one machine
# never fill its /tmp.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/lhc_fer_test.XXXXXX"); export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
start=$(date +%s)
step() { printf '\n== %s\n' "$1"; t0=$(date +%s); }
done_step() { echo "   ok ($(( $(date +%s) - t0 )) s)"; find "$TMPDIR" -mindepth 1 -delete; }  # each step starts with an empty TMPDIR

step "1/5 nbdev-export leaves lhc_fer/ unchanged"
snap=$(mktemp -d); cp -r lhc_fer "$snap/"
$BIN/nbdev-export
changed=$(diff -rq --exclude=__pycache__ "$snap/lhc_fer" lhc_fer | sed -E 's/^Files .*\/lhc_fer\/([^ ]+) and .*/\1/; s/^Only in ([^:]+): (.*)/\1\/\2/' || true)
rm -rf "$snap"
if [ -n "$changed" ]; then
  echo "FAIL: these modules are out of sync with their notebooks (now re-exported; review and commit them):"; echo "$changed" | sed 's/^/  /'; exit 1
fi
done_step

step "2/5 notebooks are clean (nbdev-clean changes nothing)"
before=$(md5sum nbs/*.ipynb)
$BIN/nbdev-clean
after=$(md5sum nbs/*.ipynb)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev-clean changed these notebooks (now cleaned; commit them):"
  diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "  " $3}'; exit 1
fi
done_step

step "3/5 nbdev-test (cells flagged slow/cuda skipped)"
# two notebooks at a time, one torch thread each: oversubscribed threads make small models many times slower
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $BIN/nbdev-test --n-workers 2 --timing
done_step

step "4/5 pytest tests/ (browser tests in step 5)"
# the study tests start a real PostgreSQL server (Debian's package; its binaries live in /usr/lib/postgresql/*/bin)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql (apt-get)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
set +e; $BIN/pytest tests/ --ignore=tests/browser -q -n 2 --dist loadfile --durations=15; rc=$?; set -e
if [ $rc -eq 5 ]; then echo "FAIL: pytest collected no tests"; exit 1; fi
[ $rc -eq 0 ] || exit $rc
done_step

step "5/5 real-browser test of the explorer"
bash tools/browser_test.sh
done_step

echo; echo "make test: all checks passed in $(( $(date +%s) - start )) s"
