"""Multi-process training on CPU: 2 torchrun processes (gloo) train with fastai's distrib_ctx through lhc_fer.train;
both ranks must end with identical weights, each must have seen half of the batches, and the loss must go down."""
import json, subprocess, sys
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file

HERE = Path(__file__).parent

def test_two_cpu_processes_train_in_lockstep(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE/"ddp_script.py"), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    info = [json.loads((tmp_path/f"rank{i}.json").read_text()) for i in (0, 1)]
    assert [i["world"] for i in info] == [2, 2] and [i["rank"] for i in info] == [0, 1]
    # each rank saw half of the 12 training batches per epoch (DistributedDL split the data)
    for i in info: assert i["batches"] == [i["full_batches"] // 2] * 3, i
    w0, w1 = (load_file(str(tmp_path/f"rank{i}.safetensors")) for i in (0, 1))
    assert w0.keys() == w1.keys()
    for k in w0: assert torch.equal(w0[k], w1[k]), k
    # the weights moved away from the (shared) initialisation and the loss went down
    v = info[0]["values"]  # per epoch: train_loss, valid_loss, accuracy, f1_macro
    assert v[-1][1] < v[0][1] and v[-1][0] < v[0][0], v
    assert info[0]["values"] == info[1]["values"]  # metrics are gathered over both ranks
    # only rank 0 wrote the history and the best model
    hist = (tmp_path/"run"/"history.csv").read_text().splitlines()
    assert len(hist) == 1 + 3 and hist[0].startswith("epoch,train_loss,valid_loss,accuracy,f1_macro")
    assert (tmp_path/"run"/"model.safetensors").exists()
