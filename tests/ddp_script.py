"""Launched by tests/test_ddp.py under torchrun: a few fastai epochs in 2 CPU processes (gloo) through
`lhc_fer.train.fit_resumable` (fastai `distrib_ctx` inside). Each rank writes its final weights and what it saw."""
import json, os, sys
from pathlib import Path
import torch, torch.nn as nn
from safetensors.torch import save_file
from fastai.data.core import DataLoaders
from fastai.callback.core import Callback
from fastai.torch_core import num_distrib, rank_distrib
from lhc_fer.config import Config
from lhc_fer.core import seed_everything
from lhc_fer.train import lhc_learner, fit_resumable

class Seen(Callback):
    "Record the number of training batches of each epoch (halved when the data are split over 2 ranks)."
    def before_fit(self): self.n = []
    def after_train(self): self.n.append(self.n_iter)

def main(out):
    torch.set_num_threads(1)
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 1, 8, 8, generator=g) * 255
    y = x[:, 0, 0, :3].argmax(-1)  # label: which of the first three pixels is brightest
    ds = list(zip(x, y))
    dls = DataLoaders.from_dsets(ds[:192], ds[192:], bs=16, device="cpu", num_workers=0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    learn = lhc_learner(dls, model, Config(n_classes=3), out_dir=out/"run", early_stop=False, cbs=Seen())
    with learn.no_bar(): fit_resumable(learn, 3, out/"run"/"resume", lr=3e-3)
    r = rank_distrib()
    save_file({k: v.contiguous() for k, v in learn.model.state_dict().items()}, str(out/f"rank{r}.safetensors"))
    (out/f"rank{r}.json").write_text(json.dumps(dict(world=num_distrib(), rank=r, batches=learn.seen.n,
        full_batches=len(dls.train), values=[[float(v) for v in row] for row in learn.recorder.values])))

if __name__ == "__main__": main(Path(sys.argv[1]))
