"""Shared by the tests: `lhc-fer` run in-process (`lhc`) and its one-line error contract (`one_line_error`), a free
TCP port, a 70-face synthetic FER2013 csv, one tiny trained run for the whole session (read-only: copy it to change it)
and tiny LHC-Nets whose BatchNorm statistics come from synthetic faces."""
import contextlib, io, os, random, re, shutil, signal, socket, subprocess, time, warnings
from pathlib import Path
import numpy as np
import pytest, torch

from tiny import TINY

__all__ = ["Ran", "lhc", "one_line_error", "free_port", "wait_until", "faces"]   # the plain helpers (tests import them from conftest)

# the warning filters of a fresh interpreter (no -W, no PYTHONWARNINGS): what a user's `lhc-fer` shows on stderr
FRESH_FILTERS = [("default", None, DeprecationWarning, "__main__"), ("ignore", None, DeprecationWarning, None),
                 ("ignore", None, PendingDeprecationWarning, None), ("ignore", None, ImportWarning, None),
                 ("ignore", None, ResourceWarning, None)]
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP)   # handlers a command may set (OutputSet: SIGTERM)


class Ran(subprocess.CompletedProcess):
    "What `lhc` returns: a CompletedProcess (returncode, stdout, stderr) that also unpacks as `rc, out, err = lhc(...)`."
    def __iter__(self): return iter((self.returncode, self.stdout, self.stderr))


def lhc(*args, cwd=None, env:dict|None=None) -> Ran:
    """Run `lhc-fer ARGS` in this process (`lhc_fer.cli.main`) as a user's shell would, in folder `cwd` with `env` added:
    its exit code, stdout and stderr (warnings included, shown as a fresh interpreter shows them). Everything the
    command may change in the process is put back afterwards: working folder, environment, warning filters, signal
    handlers, umask, torch threads, random states."""
    from lhc_fer.cli import main
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_sig = dict(os.environ), os.getcwd(), {s: signal.getsignal(s) for s in SIGNALS}
    saved_umask, saved_threads = os.umask(0o022), torch.get_num_threads(); os.umask(saved_umask)
    rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    try:
        if cwd is not None: os.chdir(cwd)
        if env is not None: os.environ.update({k: str(v) for k, v in env.items()})
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.resetwarnings()
            for action, msg, cat, mod in reversed(FRESH_FILTERS):
                warnings.filterwarnings(action, message=msg or "", category=cat, module=mod or "")
            rc = main(argv)
            for w in caught: err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    finally:
        os.chdir(saved_cwd)
        os.environ.clear(); os.environ.update(saved_env)
        for s, h in saved_sig.items():
            if h is not None: signal.signal(s, h)
        os.umask(saved_umask); torch.set_num_threads(saved_threads)
        random.setstate(rng[0]); np.random.set_state(rng[1]); torch.random.set_rng_state(rng[2])
    assert isinstance(rc, int), f"lhc_fer.cli.main returned {rc!r}, not an exit code"
    return Ran(["lhc-fer", *argv], rc, out.getvalue(), err.getvalue())


def one_line_error(r:subprocess.CompletedProcess, *words, rc:int=2) -> str:
    "`r` exited `rc` with one stderr line, `lhc-fer[ COMMAND]: error: ...` holding every one of `words`, and no traceback; that line."
    assert r.returncode == rc, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stdout + r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert re.match(r"lhc-fer(?: \w+){0,2}: (?:error: |internal error \(a bug)", lines[0]), lines[0]   # argparse names the command
    for w in words: assert str(w) in lines[0], (w, lines[0])
    return lines[0]


def wait_until(cond, timeout=30.0, every=0.05) -> bool:
    "Poll `cond()` every `every` seconds until it is true (True) or `timeout` seconds have passed (False)."
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout: return False
        time.sleep(every)
    return True


def free_port() -> int:
    "A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="session")
def csv(tmp_path_factory):
    "70 synthetic faces as a FER2013 csv; one torch thread (tiny tensors; identical sums in every test)."
    from lhc_fer.data import write_fer2013_csv
    from lhc_fer.synthetic import synthetic_faces
    torch.set_num_threads(1)
    p = tmp_path_factory.mktemp("data")/"faces.csv"
    write_fer2013_csv(synthetic_faces(70, seed=0), p)
    return str(p)


@pytest.fixture(scope="session")
def trained_run(csv, tmp_path_factory):
    """One run folder for the session, `lhc-fer train CSV --protocol fast --epochs 1` at the tiny settings (host and lhc
    stages, one epoch each). Read-only: a test that writes into a run copies it (`shutil.copytree`) first."""
    run = tmp_path_factory.mktemp("trained")/"run"
    r = lhc("train", csv, "--protocol", "fast", "--out", run, "--epochs", "1", *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (run/"model.safetensors").is_file() and (run/"host"/"model.safetensors").is_file() and (run/"lhc"/"metrics.json").is_file()
    return run


@pytest.fixture
def run_copy(trained_run, tmp_path):
    "A copy of the session's trained run that a test may change."
    return Path(shutil.copytree(trained_run, tmp_path/"run", ignore=shutil.ignore_patterns(".lock")))


def faces(n:int, seed:int) -> torch.Tensor:
    "`n` synthetic 48 px faces as a float (n, 1, 48, 48) batch of pixels 0-255."
    from lhc_fer.synthetic import synthetic_faces
    return torch.from_numpy(synthetic_faces(n=n, seed=seed).images).float()[:, None]


@pytest.fixture(scope="session")
def bn_lhc_net(tmp_path_factory):
    """`bn_lhc_net(**lhc_net_kwargs)`: the path of a saved LHC-Net (torch seed 0) whose BatchNorm statistics were gathered
    on 64 synthetic faces, so its logits have a trained model's size (with random statistics an untrained LHC-Net is
    ill-conditioned: float32 then differs from float64 by ~1e-4). One file per set of arguments, made once a session."""
    from lhc_fer.models import lhc_net
    from lhc_fer.checkpoint import save_model
    made = {}
    def make(**kw):
        key = repr(sorted(kw.items()))
        if key not in made:
            torch.manual_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore"); m = lhc_net(**kw)
            for b in m.modules():
                if isinstance(b, torch.nn.modules.batchnorm._BatchNorm): b.momentum = None; b.reset_running_stats()
            m.train()
            with torch.no_grad(): m(faces(64, seed=11))
            made[key] = save_model(m.eval(), tmp_path_factory.mktemp("bn_run")/"model.safetensors")
        return made[key]
    return make
