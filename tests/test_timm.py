"timm's own model tests, from the sdist of the installed timm, on the two models lhc_fer registers with timm."
import os, re, subprocess, sys, tarfile
from pathlib import Path
import pytest
import timm

NAMES = "lhc or resnet34v2"  # -k: resnet34v2 and lhc_resnet34 (no timm model matches either)
MIN_PASSED = 8               # forward, default_cfgs, forward_features, forward_fx: one each per model
OFFLINE = ("Failed to establish a new connection", "Temporary failure in name resolution", "Name or service not known",
           "Network is unreachable", "Connection refused", "ConnectTimeoutError", "ReadTimeoutError", "ProxyError")
# the markers timm's pyproject.toml declares, and pytest-timeout's, so the run warns about none of them
MARKERS = ("base", "forward", "backward", "cfg", "cfg_nonstd", "torchscript", "features", "fxforward", "fxbackward",
           "timeout")

def timm_sdist(dest:Path) -> Path:
    "The sdist of the installed timm, downloaded with pip; skips the test when no package registry is reachable."
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--retries", "1",
                        "--timeout", "30", "--disable-pip-version-check", f"timm=={timm.__version__}", "-d", str(dest)],
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    if r.returncode and any(s in out for s in OFFLINE):
        pytest.skip(f"no package registry reachable to download the timm {timm.__version__} sdist:\n{out[-1500:]}")
    assert r.returncode == 0, out[-3000:]
    (sdist,) = dest.glob("timm-*.tar.gz")
    return sdist

def extract_tests(sdist:Path, dest:Path) -> Path:
    "timm's tests/test_models.py and the modules of timm's tests folder it imports, into `dest`."
    with tarfile.open(sdist) as tf:
        files = {Path(m.name).relative_to(Path(m.name).parts[0]).as_posix(): m for m in tf.getmembers() if m.isfile()}
        todo, done = ["test_models"], set()
        while todo:
            name = todo.pop()
            if name in done or f"tests/{name}.py" not in files: continue
            done.add(name)
            text = tf.extractfile(files[f"tests/{name}.py"]).read().decode()
            (dest/f"{name}.py").write_text(text)
            todo += re.findall(r"^\s*(?:from|import)\s+(?:tests)?\.?(\w+)", text, re.M)  # siblings: `from .x`, `tests.x`
    assert (dest/"test_models.py").exists(), f"{sdist.name} holds no tests/test_models.py"
    return dest/"test_models.py"

@pytest.mark.slow
def test_timm_model_tests(tmp_path):
    sdist = timm_sdist(tmp_path/"dl")
    run = tmp_path/"run"; run.mkdir()
    extract_tests(sdist, run)
    (run/"conftest.py").write_text("import lhc_fer.models  # registers resnet34v2 and lhc_resnet34 before timm lists its models\n")
    (run/"pytest.ini").write_text("[pytest]\nmarkers =\n" + "".join(f"    {m}\n" for m in MARKERS))  # rootdir here
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "TORCH_BACKEND", "TIMEOUT")}
    env["TORCH_DEVICE"] = "cpu"                                          # timm's test switches: CPU, local filters
    r = subprocess.run([sys.executable, "-m", "pytest", "test_models.py", "-k", NAMES, "-p", "no:cacheprovider", "-q",
                        "-rfE", "--tb=short"], cwd=run, env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    summary = next((l for l in reversed(r.stdout.splitlines()) if re.search(r"\d+ (passed|failed|error|deselected)", l)), "")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", summary)}
    assert r.returncode == 0, f"timm's tests failed ({summary}):\n{out[-6000:]}"
    assert counts.get("passed", 0) >= MIN_PASSED, f"expected at least {MIN_PASSED} passed, got: {summary!r}\n{out[-3000:]}"
    assert not set(counts) - {"passed"}, f"only passes expected: {summary!r}"
