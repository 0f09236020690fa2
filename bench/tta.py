"""Paper TTA: `predict_tta` (all 59 views of a batch made with one grid_sample, forwarded in batches) against loops.

Three ways to compute the same (3·p + Σ59 views)/62 probabilities with an LHC-Net (paper heads, "auto" where a head
count does not divide a small resolution):
  batched      lhc_fer.evaluate.predict_tta: one grid_sample per batch for all views, forwards of `bs` images
  per view     the original's structure (TTA_Inference): for each view, transform the batch, predict it
  per image    image by image: each view of each image transformed and predicted alone (batch 1)
They run interleaved, best of `repeats`; the outputs are checked equal (1e-4); prints img/s and ratios.
Usage: python bench/tta.py [--quick] [--size S] [--n N]  (CPU default: 48 px, 2 faces; CUDA: 224 px, 64 faces)
On CPU the per-image loop dominates the run time (124 batch-1 forwards of a 31M-parameter network per 2 faces).
"""
import argparse, time, warnings
import torch
import torch.nn.functional as F
from lhc_fer.core import default_device
from lhc_fer.evaluate import PAPER_WEIGHT, apply_views, paper_tta_views, predict_tta
from lhc_fer.models import lhc_net


def per_view(model, x, views, size, bs=64):
    "The original's loop: every view of the whole batch, one view after another."
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        probs = lambda t: torch.cat([model(c).softmax(-1) for c in t.split(bs)])
        p = PAPER_WEIGHT * probs(x)
        for v in views: p = p + probs(apply_views(x, [v])[0])
    return p / (PAPER_WEIGHT + len(views))


def per_image(model, x, views, size):
    "Image by image, view by view, batch 1."
    out = []
    with torch.inference_mode():
        for img in x:
            xi = F.interpolate(img[None], size=(size, size), mode="bilinear", align_corners=False)
            p = PAPER_WEIGHT * model(xi).softmax(-1)
            for v in views: p = p + model(apply_views(xi, [v])[0]).softmax(-1)
            out.append(p / (PAPER_WEIGHT + len(views)))
    return torch.cat(out)


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 face, 1 repeat on CPU")
    ap.add_argument("--size", type=int, default=None, help="model input size (default: 224 on CUDA, 48 on CPU)")
    ap.add_argument("--n", type=int, default=None, help="faces (default: 64 on CUDA, 2 on CPU)")
    a = ap.parse_args()
    torch.set_num_threads(2); torch.manual_seed(0)
    dev = default_device()
    size = a.size or (224 if dev.type == "cuda" else 48)
    n = a.n or (64 if dev.type == "cuda" else (1 if a.quick else 2))
    repeats = 1 if a.quick else 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                               # heads="auto" reports the counts it moved
        model = lhc_net(img_size=size, heads="auto").to(dev).eval()
    x = (torch.rand(n, 1, 48, 48) * 255).to(dev)
    views = paper_tta_views()
    ways = {"batched": lambda: predict_tta(model, x, views),
            "per view": lambda: per_view(model, x, views, size),
            "per image": lambda: per_image(model, x, views, size)}
    print(f"device {dev}, LHC-Net at {size} px, {n} faces x 62 forwards, {repeats} interleaved repeats")
    ref = ways["batched"]()                                          # warm-up, and the reference output
    times = {k: [] for k in ways}
    for _ in range(repeats):
        for k, f in ways.items():
            sync(dev); t = time.perf_counter(); p = f(); sync(dev); times[k].append(time.perf_counter() - t)
            err = (p.float().cpu() - ref.float().cpu()).abs().max().item()
            assert err < 1e-4, f"{k} differs from batched by {err:.2e}"
    best = {k: min(v) for k, v in times.items()}
    for k, v in best.items(): print(f"{k:>10}: {n / v:8.2f} img/s  ({v:.2f} s, best of {repeats})")
    print(f"batched vs per image: {best['per image'] / best['batched']:.2f}x; "
          f"batched vs per view: {best['per view'] / best['batched']:.2f}x")


if __name__ == "__main__": main()
