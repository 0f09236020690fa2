"""Run folders under faults: a second process on a busy folder, damaged files on resume, and writes that fail (file-size
limit, read-only folder). Tiny runs (16 px, a quarter-width host, one head per LHC module, 70 synthetic faces: one
batch per epoch); every recovered run must end with the weights of a run that was never disturbed."""
import os, resource, shutil, signal, subprocess, sys
from pathlib import Path
import pytest, torch
from fastai.callback.core import Callback
from safetensors.torch import load_file
from lhc_fer.config import Config
from lhc_fer.train import train_fast
from conftest import lhc, one_line_error, wait_until

LHC = str(Path(sys.executable).parent/"lhc-fer")
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # one thread, as in this process: identical float sums
from tiny import TINY, TINY_CFG
CFG = TINY_CFG.replace(epochs=3)

def weights(run): return load_file(str(Path(run)/"model.safetensors"))

def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

@pytest.fixture(scope="module")
def ref(csv, tmp_path_factory):
    "The undisturbed run: host 3 epochs, then lhc 1 epoch."
    run = tmp_path_factory.mktemp("ref")/"run"
    train_fast(csv, run, CFG)
    return run

class Crash(Callback):
    "Stop the process-like way (KeyboardInterrupt) after `epoch` of stage `stage`."
    order = 70
    def __init__(self, stage, epoch): self.stage, self.at = stage, epoch
    def after_epoch(self):
        if Path(self.learn.out_dir).name == self.stage and self.epoch == self.at: raise KeyboardInterrupt("crash")

@pytest.fixture(scope="module")
def crashed(csv, tmp_path_factory):
    "Two run folders: one stopped after host epoch 1 (a resume checkpoint), one stopped in the lhc stage (host finished)."
    base = tmp_path_factory.mktemp("crashed")
    for name, stage, epoch in (("in_host", "host", 1), ("in_lhc", "lhc", 0)):
        with pytest.raises(KeyboardInterrupt): train_fast(csv, base/name, CFG, cbs=[Crash(stage, epoch)])
    return base

DAMAGE = {
    "history_repeated_header": ("in_host", "host/history.csv", lambda p: p.write_text(p.read_text() + p.read_text()),
                                "rebuilt {run}/host/history.csv from the resume checkpoint"),
    "history_cut_line":        ("in_host", "host/history.csv", lambda p: p.write_bytes(p.read_bytes()[:-7]),
                                "rebuilt {run}/host/history.csv from the resume checkpoint"),
    "checkpoint_truncated":    ("in_host", "host/resume/epoch_0001.safetensors", lambda p: p.write_bytes(p.read_bytes()[:500]),
                                "{run}/host/resume/epoch_0001.safetensors: unreadable"),
    "checkpoint_zero_bytes":   ("in_host", "host/resume/epoch_0001.safetensors", lambda p: p.write_bytes(b""),
                                "{run}/host/resume/epoch_0001.safetensors: unreadable"),
    "config_missing_ckpt":     ("in_host", "config.json", lambda p: p.unlink(),
                                "rebuilt {run}/config.json from {run}/host/resume/epoch_0001.safetensors"),
    "metrics_cut":             ("in_lhc", "host/metrics.json", lambda p: p.write_text(p.read_text()[:40]),
                                "rebuilt {run}/host/metrics.json from {run}/host/history.csv"),
    "model_truncated":         ("in_lhc", "host/model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:1000]),
                                "{run}/host/model.safetensors: unreadable"),
    "model_zero_bytes":        ("in_lhc", "host/model.safetensors", lambda p: p.write_bytes(b""),
                                "{run}/host/model.safetensors: unreadable"),
    "config_missing_metrics":  ("in_lhc", "config.json", lambda p: p.unlink(),
                                "rebuilt {run}/config.json from {run}/host/metrics.json"),
}

@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_file_recovered_on_resume(case, csv, ref, crashed, tmp_path):
    src, rel, damage, said = DAMAGE[case]
    run = tmp_path/"run"; shutil.copytree(crashed/src, run)
    damage(run/rel)
    rc, out, err = lhc("train", csv, "--protocol", "fast", "--out", run, "--resume")   # flags from the run
    assert rc == 0 and "Traceback" not in out + err, err
    lines = [l for l in err.splitlines() if l.startswith("lhc-fer:")]
    assert any(said.format(run=run) in l for l in lines), lines
    assert same_weights(run, ref)
    h = lambda r: (Path(r)/"host"/"history.csv").read_text().splitlines()
    assert [l.split(",")[:-1] for l in h(run)] == [l.split(",")[:-1] for l in h(ref)]   # same rows (time aside)

def test_config_missing_and_nothing_records_it(csv, tmp_path):
    run = tmp_path/"run"; (run/"host").mkdir(parents=True)
    r = lhc("train", csv, "--protocol", "fast", "--out", run, "--resume")
    assert one_line_error(r) == (f"lhc-fer: error: {run}/config.json: missing, and no stage of the run records its Config; "
                           f"resume with the run's flags again, or use --force to start again")

def fresh(*args, **kw):
    "`lhc-fer ARGS` as a process of its own (one torch thread, as in this process)."
    return subprocess.run([LHC, *map(str, args)], capture_output=True, text=True, timeout=600, **{"env": ENV, **kw})

def train_args(csv, run, *more): return ["train", csv, "--protocol", "fast", "--out", run, *TINY, "--epochs", 3, *more]

def test_second_process_on_busy_folder(csv, ref, tmp_path):
    "A second train on a folder in use is refused in one line; readers see complete files; the disturbed run ends as the undisturbed one."
    run = tmp_path/"run"
    first = subprocess.Popen([LHC, *map(str, train_args(csv, run))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=ENV)
    lock = run/".lock"
    try:
        wait_until(lambda: lock.exists() and lock.read_text().strip(), every=0.02)
        os.kill(first.pid, signal.SIGSTOP)   # paused, the holder stays alive as long as the checks take: no long run needed
        pid = lock.read_text().strip()
        assert pid == str(first.pid)
        for extra in ([], ["--resume"], ["--force"]):                    # from this process: another PID than the holder's
            r = lhc(*train_args(csv, run, *extra))
            assert first.poll() is None, (extra, r.stderr, first.poll())
            assert one_line_error(r) == (f"lhc-fer: error: {run}: in use by another lhc-fer process (PID {pid}); "
                                         f"wait for it to end or stop it"), (extra, r.stderr)
        os.kill(first.pid, signal.SIGCONT)
        wait_until(lambda: first.poll() is not None or (run/"host"/"model.safetensors").exists(), timeout=600, every=0.005)
        if first.poll() is None:                                          # readers see complete files only
            os.kill(first.pid, signal.SIGSTOP)
            assert not (run/"lhc"/"metrics.json").exists()                # mid lhc stage: the export reads a run in progress
            r = lhc("export", run, "--onnx", tmp_path/"m.onnx")
            assert r.returncode == 0, r.stderr
    finally:
        if first.poll() is None: os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert same_weights(run, ref)                                         # the disturbed run was not disturbed
    assert lhc(*train_args(csv, run, "--resume")).returncode == 0         # the lock went with its holder

@pytest.mark.slow
def test_killed_run_leaves_no_stale_lock(csv, ref, tmp_path):
    run = tmp_path/"run"
    p = subprocess.Popen([LHC, *map(str, train_args(csv, run))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    wait_until((run/"host"/"history.csv").exists)
    p.kill(); p.wait()
    r = lhc(*train_args(csv, run, "--resume"))
    assert r.returncode == 0, r.stderr
    assert same_weights(run, ref)

@pytest.mark.slow
def test_file_size_limit_then_resume(csv, ref, tmp_path):
    run = tmp_path/"run"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))   # the model file is ~7 MB
    r = subprocess.run([LHC, *map(str, train_args(csv, run))], capture_output=True, text=True, preexec_fn=limit, env=ENV)
    assert one_line_error(r) == f"lhc-fer: error: file size limit reached writing {run}/host/model.safetensors"
    assert not list(run.rglob("*tmp*"))                                 # no temporary file left behind
    Config.from_json(run/"config.json")                                   # what was written before is intact
    assert lhc(*train_args(csv, run, "--resume")).returncode == 0
    assert same_weights(run, ref)

@pytest.mark.slow
def test_read_only_folder_then_resume(csv, ref, tmp_path):
    run = tmp_path/"run"; (run/"host").mkdir(parents=True)
    # root ignores permission bits; without CAP_DAC_OVERRIDE it obeys them like any user
    pre = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    (run/"host").chmod(0o555)
    r = subprocess.run([*pre, LHC, *map(str, train_args(csv, run, "--resume"))], capture_output=True, text=True, env=ENV)
    assert one_line_error(r) == f"lhc-fer: error: permission denied writing {run}/host/config.json"
    (run/"host").chmod(0o755)
    r = lhc(*train_args(csv, run, "--resume"))
    assert r.returncode == 0, r.stderr
    assert same_weights(run, ref)

def test_written_files_respect_umask(tmp_path):
    "A fresh process: lhc_fer reads the umask once, on import."
    old = os.umask(0o022)
    try: r = fresh("data", "synth", tmp_path/"faces.csv", "--n", 14)
    finally: os.umask(old)
    assert r.returncode == 0, r.stderr
    assert (tmp_path/"faces.csv").stat().st_mode & 0o777 == 0o644

def test_json_that_is_not_a_model(trained_run, tmp_path):
    import cv2, numpy as np
    img = tmp_path/"face.png"; cv2.imwrite(str(img), np.full((48, 48), 128, np.uint8))
    r = lhc("predict", trained_run/"metrics.json", img)
    assert one_line_error(r) == (f"lhc-fer: error: {trained_run}/metrics.json: not an lhc_fer model file: no architecture "
                                 f"(give a model.safetensors or its .json)")
