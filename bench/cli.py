"""How long `lhc-fer --help` and each `lhc-fer CMD --help` take, beside what importing torch and fastai alone costs.

The parser is built from `lhc_fer.config` and the commands' source, so help should cost a small fraction of one
torch import. Each command is timed as the best of 3 runs (seconds of wall time, a fresh process each)."""
import subprocess, sys, time
from pathlib import Path
from lhc_fer.cli import COMMANDS

EXE = str(Path(sys.executable).parent / "lhc-fer")


def best(cmd, n=3) -> float:
    "Best wall time of `n` runs of `cmd` (a fresh process each)."
    out = []
    for _ in range(n):
        t = time.perf_counter(); subprocess.run(cmd, capture_output=True, check=False); out.append(time.perf_counter() - t)
    return min(out)


if __name__ == "__main__":
    base = best([sys.executable, "-c", "import torch, fastai.vision.all"])
    rows = [("--help", best([EXE, "--help"]))] + [(f"{c} --help", best([EXE, *c.split(), "--help"])) for c in COMMANDS]
    print(f"importing torch + fastai alone: {base:.2f} s")
    print(f"{'command':<24} {'seconds':>8} {'x of that import':>18}")
    for name, s in rows: print(f"lhc-fer {name:<16} {s:8.3f} {s / base:18.3f}")
    print(f"slowest help: {max(s for _, s in rows):.3f} s ({max(s for _, s in rows) / base:.3f} x the torch + fastai import)")
