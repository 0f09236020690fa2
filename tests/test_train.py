"""Training runs end to end through `lhc-fer train` (in-process `lhc_fer.cli.main`): the paper's five stages, run
folders that are never overwritten, resuming an interrupted stage, and same seed -> same metrics on CPU.
Tiny settings (16 px inputs, a quarter-width host, one LHC head per module, 70 synthetic faces: one batch per epoch)."""
import json
from pathlib import Path
import pandas as pd
import pytest, torch
from fastai.callback.core import Callback
from lhc_fer.cli import main
from lhc_fer.config import Config

from lhc_fer.models import lhc_modules
from lhc_fer.checkpoint import load_model
from lhc_fer.train import train_paper, PAPER_STAGES

from tiny import TINY, TINY_CFG

def _hist(p): return pd.read_csv(p).drop(columns="time")

def test_paper_protocol_all_stages(csv, tmp_path, capsys):
    run = tmp_path/"run"
    assert main(["train", csv, "--protocol", "paper", "--out", str(run), "--epochs", "1", *TINY]) == 0
    out = capsys.readouterr().out
    assert "controller: valid accuracy" in out
    assert "\r" not in out and out.count("epoch 1/1  train_loss") == 5   # not a terminal: one line per epoch, no bars
    for s in PAPER_STAGES:
        d = run/s.name
        assert sorted(p.name for p in d.iterdir()) == ["config.json", "history.csv", "metrics.json", "model.json", "model.safetensors"]
        assert Config.from_json(d/"config.json").bs == s.bs and Config.from_json(d/"config.json").lr == s.lr
        assert json.loads((d/"metrics.json").read_text())["epochs_run"] == 1
    host, lhc, ctl = (load_model(run/n/"model.safetensors") for n in ("host3", "lhc", "controller"))
    assert not lhc_modules(host) and len(lhc_modules(lhc)) == 5
    # the LHC stage started from host3's weights: its host part moved only by the LHC stage's own training step,
    # while the controller stage changed nothing but the five controller scalars
    a, b = lhc.state_dict(), ctl.state_dict()
    changed = [k for k in b if k not in a or not torch.equal(a[k], b[k])]
    assert changed and all("controller" in k for k in changed), changed
    final = load_model(run/"model.safetensors").state_dict()
    assert all(torch.equal(final[k], b[k]) for k in b)
    summary = json.loads((run/"metrics.json").read_text())
    assert summary["protocol"] == "paper" and list(summary["stages"]) == [s.name for s in PAPER_STAGES]

def test_run_folder_never_overwritten(csv, run_copy, capsys):
    "The session's trained run (`conftest.trained_run`), copied: trained with exactly these arguments."
    run = run_copy
    args = ["train", csv, "--protocol", "fast", "--out", str(run), "--epochs", "1", *TINY]
    files = [run/"model.safetensors", run/"model.json", run/"config.json", *(run/"host").iterdir(), *(run/"lhc").iterdir()]
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    capsys.readouterr()
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0  # finished: nothing retrains, nothing is rewritten but the summary
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files} == before
    (run/"note.txt").write_text("mine")
    assert main(args + ["--force"]) == 2                       # --force never deletes a file the kit did not write
    assert "'note.txt', which lhc-fer did not write" in capsys.readouterr().err and (run/"note.txt").read_text() == "mine"
    (run/"note.txt").unlink()
    assert main(args + ["--force"]) == 0
    assert (run/"lhc"/"metrics.json").exists()
    assert main(["train", csv, "--protocol", "fast", "--out", str(run), "--epochs", "1", "--seed", "5", "--resume"]) == 2
    assert "different Config" in capsys.readouterr().err

class Crash(Callback):
    order = 70
    def after_epoch(self):
        if self.epoch == 0: raise KeyboardInterrupt("simulated crash after epoch 0")

def test_interrupted_stage_resumes(csv, tmp_path):
    cfg = TINY_CFG.replace(epochs=3, patience=5)
    straight = train_paper(csv, tmp_path/"a", cfg, stages=["host1"])
    with pytest.raises(KeyboardInterrupt): train_paper(csv, tmp_path/"b", cfg, stages=["host1"], cbs=[Crash()])
    ck = sorted((tmp_path/"b"/"host1"/"resume").glob("epoch_*.safetensors"))
    assert [p.name for p in ck] == ["epoch_0000.safetensors"]
    assert not (tmp_path/"b"/"host1"/"metrics.json").exists()
    with pytest.raises(Exception, match="not empty"): train_paper(csv, tmp_path/"b", cfg, stages=["host1"])
    resumed = train_paper(csv, tmp_path/"b", cfg, stages=["host1"], resume=True)
    ha, hb = _hist(tmp_path/"a"/"host1"/"history.csv"), _hist(tmp_path/"b"/"host1"/"history.csv")
    assert hb.epoch.tolist() == list(range(len(ha)))  # epoch 0 not repeated, the rest continued
    pd.testing.assert_frame_equal(ha, hb, rtol=1e-5)  # identical to the run that was never interrupted
    assert resumed["host1"]["accuracy"] == straight["host1"]["accuracy"]
    wa, wb = (load_model(tmp_path/d/"host1"/"model.safetensors").state_dict() for d in ("a", "b"))
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6) for k in wa)
    assert not (tmp_path/"b"/"host1"/"resume").exists()  # removed once the stage finished

def test_same_seed_same_metrics(csv, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert main(["train", csv, "--protocol", "fast", "--out", str(tmp_path/name), "--epochs", "2",
                     "--seed", str(seed), *TINY]) == 0
        runs[name] = pd.concat([_hist(tmp_path/name/s/"history.csv") for s in ("host", "lhc")])
    pd.testing.assert_frame_equal(runs["a"], runs["b"], check_exact=True)
    assert runs["a"].train_loss.tolist() != runs["c"].train_loss.tolist()
