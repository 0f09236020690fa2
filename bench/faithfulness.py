"""Deletion/insertion curves: `deletion_curve` (every image x every step in one batched stream) against an image-by-image loop.

Two ways to compute the same deletion curves (target probability as the top-ranked pixels are replaced by a blur):
  batched    lhc_fer.faithfulness.deletion_curve: the perturbed copies of all (image, step) pairs, built on the fly and
             forwarded in batches of `bs` (images and steps mixed)
  per image  image by image, step by step: replace the image's top k pixels, forward that one image (batch 1)
Both use the demo's LHC-Net (lhc_fer.demo.DEMO_CONFIG, random weights: this measures time, not quality) on synthetic
48 px faces with random maps. They run interleaved, best of `repeats`; the curves are checked equal (1e-4);
prints curves/s and the ratio.
Usage: python bench/faithfulness.py [--quick] [--n N] [--steps S] [--bs B]
"""
import argparse, time, warnings
import torch
from lhc_fer.core import default_device
from lhc_fer.synthetic import synthetic_faces
from lhc_fer.demo import DEMO_CONFIG
from lhc_fer.faithfulness import baseline_image, deletion_curve
from lhc_fer.models import model_from_config


def per_image(model, x, maps, target, steps, baseline="blur"):
    "The plain loop: one forward per image per step."
    base = baseline_image(x, baseline)
    P = maps[0].numel(); out = []
    with torch.inference_mode():
        for img, b, m, t in zip(x, base, maps, target):
            order = torch.sort(m.flatten(), descending=True, stable=True).indices
            row = []
            for k in range(steps + 1):
                xi = img.clone().flatten(1)
                xi[:, order[:k * P // steps]] = b.flatten(1)[:, order[:k * P // steps]]
                row.append(model(xi.view_as(img)[None]).softmax(1)[0, t])
            out.append(torch.stack(row))
    return torch.stack(out).cpu().numpy()


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 faces, 1 repeat")
    ap.add_argument("--n", type=int, default=None, help="faces (default 64)")
    ap.add_argument("--steps", type=int, default=10, help="deletion steps")
    ap.add_argument("--bs", type=int, default=64, help="batch size of the batched stream")
    a = ap.parse_args()
    torch.set_num_threads(2); torch.manual_seed(0)
    dev = default_device()
    n = a.n or (8 if a.quick else 64)
    repeats = 1 if a.quick else 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = model_from_config(DEMO_CONFIG).to(dev).eval()
    faces = synthetic_faces(n, seed=0, size=48)
    x = torch.from_numpy(faces.images).float()[:, None].to(dev)                # (n, 1, 48, 48)
    maps = torch.rand(n, 48, 48, generator=torch.Generator().manual_seed(0)).to(dev)
    with torch.inference_mode(): target = model(x).argmax(1)
    ways = {"batched": lambda: deletion_curve(model, x, maps, target, a.steps, bs=a.bs)[1],
            "per image": lambda: per_image(model, x, maps, target, a.steps)}
    print(f"device {dev}, demo LHC-Net ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, 48 px), "
          f"{n} faces x {a.steps + 1} points, bs {a.bs}, {torch.get_num_threads()} threads, {repeats} interleaved repeats")
    ref = ways["batched"]()                                                     # warm-up, and the reference curves
    times = {k: [] for k in ways}
    for _ in range(repeats):
        for k, f in ways.items():
            sync(dev); t = time.perf_counter(); s = f(); sync(dev); times[k].append(time.perf_counter() - t)
            err = abs(s - ref).max()
            assert err < 1e-4, f"{k} differs from batched by {err:.2e}"
    best = {k: min(v) for k, v in times.items()}
    for k, v in best.items(): print(f"{k:>10}: {n / v:8.2f} curves/s  ({v:.2f} s, best of {repeats})")
    print(f"batched vs per image: {best['per image'] / best['batched']:.2f}x")


if __name__ == "__main__": main()
