"""README figures from a finished demo (`make demo` writes outputs/demo): the model view of a test face it gets right.

    .venv/bin/python tools/readme_figures.py [outputs/demo]   ->  nbs/images/model_view.png
"""
import sys
from pathlib import Path
import torch
from lhc_fer.attention import capture_attention, plot_model_view
from lhc_fer.core import class_names
from lhc_fer.loaders import load_fer
from lhc_fer.checkpoint import load_run

demo = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/demo")
_, model = load_run(demo / "run")
test = load_fer(demo / "data" / "synthetic_fer2013.csv").subset("test")
x = torch.from_numpy(test.images[:64]).float()[:, None]
with torch.no_grad(): p = model(x).softmax(-1)
names = class_names(model, test, p.shape[1])
right = [i for i in range(len(x)) if int(p[i].argmax()) == int(test.labels[i]) and float(p[i].max()) > 0.8]
if not right: sys.exit(f"{demo}: no confidently right test face among the first 64; train the demo first")
i = right[0]
fig = plot_model_view(capture_attention(model, x[i:i + 1]), image=0, save=Path("nbs/images/model_view.png"), dpi=90)
print(f"nbs/images/model_view.png: test face {i}, {names[int(test.labels[i])]}, predicted {names[int(p[i].argmax())]} ({float(p[i].max()):.2f})")
