"""`lhc-fer predict` throughput: faces of many photos batched into one forward per `bs` against one photo at a time.

Side by side in one run, for the demo's model (`DEMO_CONFIG`, 48 px, quarter width) and the paper's full-width
LHC-Net at 224 px (random weights: speed does not depend on them):
  one at a time  lhc_fer.predict.Predictor.predict_faces per photo: read, detect, one forward for that photo's face(s)
  batched        lhc_fer.predict.Predictor.predict_media: every photo read and its faces detected, crops sent `bs` at a time
each in fp32 (the default on the CPU) and in bf16 autocast (`precision="bf16"`), and batched bf16 through
torch.compile (`compile=True`; its one-off compile is timed apart). Then the classifier alone on 48 px crops already
cut (`predict_images(detect=False)`), bs against bs=1 in each precision, and a video end to end (decode, detect,
track, classify, encode the annotated copy) with `predict_video`, in frames/s.
The face detectors (Haar, MTCNN when installed) on skimage's photos: faces found and ms a photo.
fp32 outputs are checked equal across batch sizes (1e-4); bf16 is compared with fp32 on a trained run when one is
given (`--run`, default outputs/demo/run from `make demo`): random weights give logits of hundreds, where bf16's
rounding flips near ties. Interleaved, best of `--repeats`; prints faces/s and ratios (about 5 min on 2 CPU cores,
most of it the two compiles of the full model).
Usage: python bench/predict.py [--quick] [--photos N] [--frames N] [--bs B] [--repeats R] [--no-compile] [--run DIR]
"""
import argparse, time, warnings
from pathlib import Path
import cv2
import numpy as np
import skimage.data
import torch
from lhc_fer.outputs import scratch
from lhc_fer.core import default_device
from lhc_fer.demo import DEMO_CONFIG
from lhc_fer.data import read_image
from lhc_fer.loaders import load_fer
from lhc_fer.faces import crop_face, detect_faces
from lhc_fer.predict import Predictor
from lhc_fer.models import lhc_net, model_from_config
from lhc_fer.checkpoint import load_run


def photos(d, n):
    "n photos, each the astronaut shifted a little (a face each, sometimes a false second one), as PNGs."
    a = skimage.data.astronaut(); out = []
    for i in range(n):
        p = d / f"p{i:03d}.png"; dx, dy = 3 * (i % 7), 2 * (i % 5)
        cv2.imwrite(str(p), cv2.cvtColor(np.ascontiguousarray(a[dy:400 + dy, dx:400 + dx]), cv2.COLOR_RGB2BGR)); out.append(p)
    return out


def clip(path, n):
    "n frames, 480x360: the astronaut's head moving right, growing (as in tests/test_predict_media.py)."
    head = skimage.data.astronaut()[16:216, 124:324]
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (480, 360))
    for i in range(n):
        s = 120 + i % 60; fr = np.full((360, 480, 3), 100, np.uint8)
        fr[40:40 + s, 10 + 3 * (i % 60):10 + 3 * (i % 60) + s] = cv2.resize(head, (s, s), interpolation=cv2.INTER_AREA)
        w.write(cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))
    w.release()
    return path


def timed(f):
    "(seconds, result) of one call of f."
    t = time.perf_counter(); r = f(); return time.perf_counter() - t, r


def probs_of(df):
    "The probability columns of a predict_media table, (faces, K)."
    c = list(df.columns); return df[c[c.index("h") + 1:c.index("top")]].to_numpy()


def fidelity(run, bs):
    "bf16 against fp32 on a trained run's own data: top-1 agreement, largest and mean probability difference."
    _, m = load_run(run); cfg = Path(run).parent / "data"
    src = next(cfg.glob("*.csv"), None) if cfg.is_dir() else None
    x = np.asarray(load_fer(str(src)).images)[:512] if src else np.random.default_rng(0).integers(0, 256, (512, 48, 48))
    p32 = Predictor(m, bs=bs).predict_images(x, detect=False); p16 = Predictor(m, bs=bs, precision="bf16").predict_images(x, detect=False)
    return (p32.argmax(1) == p16.argmax(1)).mean(), np.abs(p32 - p16).max(), np.abs(p32 - p16).mean(), len(x)


def detectors(repeats):
    "Faces found and ms a photo for each detector on skimage's photos (camera: a turned face; coins: no face)."
    from lhc_fer.config import LhcFerError
    from lhc_fer.faces import DETECTORS, face_detector
    photos = {k: getattr(skimage.data, k)() for k in ("astronaut", "camera", "coins", "coffee")}
    for name in DETECTORS:
        try: det = face_detector(name)
        except LhcFerError as e: print(f"  {name}: not installed ({e})"); continue
        det(photos["astronaut"])                                     # warm-up (MTCNN builds its nets)
        row = []
        for k, im in photos.items():
            t = min(timed(lambda: det(im))[0] for _ in range(repeats)); row.append(f"{k} {len(det(im))} ({1000 * t:.0f} ms)")
        print(f"  {name:>5}: " + ", ".join(row))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer photos and frames, no compile")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats, best kept (default 2)")
    ap.add_argument("--photos", type=int, default=None, help="photos (default 32, quick 8)")
    ap.add_argument("--frames", type=int, default=None, help="video frames (default 32, quick 12)")
    ap.add_argument("--bs", type=int, default=16, help="faces per forward when batched (default 16)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--run", default="outputs/demo/run", help="trained run for the bf16 fidelity line")
    a = ap.parse_args()
    torch.set_num_threads(2); torch.manual_seed(0)
    dev, repeats, bs, comp = default_device(), a.repeats, a.bs, not (a.no_compile or a.quick)
    n, nf = a.photos or (8 if a.quick else 32), a.frames or (12 if a.quick else 32)
    d = scratch(); files = photos(d, n); vid = clip(d / "clip.mp4", nf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                               # heads="auto" reports the counts it moved
        models = {"demo (48 px, width 0.25)": model_from_config(DEMO_CONFIG),
                  "paper (224 px, full width)": lhc_net(img_size=224, heads="auto")}
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    bf = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    print(f"device {dev}, {torch.get_num_threads()} threads (CPU: {torch.backends.cpu.get_cpu_capability()}, "
          f"AMX {'yes' if amx else 'no'}, AVX512-BF16 {'yes' if bf else 'no'}), {n} photos, a {nf}-frame 480x360 video, "
          f"bs={bs}, best of {repeats}")
    if Path(a.run).is_dir():
        agree, dmax, dmean, k = fidelity(a.run, bs)
        print(f"bf16 vs fp32 on the trained run {a.run} ({k} faces): top-1 agreement {agree:.3f}, "
              f"largest |dp| {dmax:.3f}, mean |dp| {dmean:.4f}")
    else: print(f"(no trained run at {a.run}: run `make demo` for the bf16 fidelity line)")
    print("faces found by each detector (astronaut 1, camera 1 turned, coins 0, coffee 0 are right):"); detectors(repeats)
    for name, m in models.items():
        m = m.to(dev).eval()
        faces = np.stack([crop_face(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), (177 - 3 * (i % 7), 66 - 2 * (i % 5), 95, 95))
                          for i, f in enumerate(files)])            # (n, 48, 48)
        photo = {"one at a time fp32 (as before)": lambda: [Predictor(m).predict_faces(f) for f in files],
                 "batched fp32": lambda: Predictor(m, bs=bs).predict_media(files),
                 "one at a time bf16": lambda: [Predictor(m, precision="bf16").predict_faces(f) for f in files],
                 "batched bf16": lambda: Predictor(m, bs=bs, precision="bf16").predict_media(files)}
        crops = {"fp32 bs=1": lambda: Predictor(m, bs=1).predict_images(faces, detect=False),
                 f"fp32 bs={bs}": lambda: Predictor(m, bs=bs).predict_images(faces, detect=False),
                 "bf16 bs=1": lambda: Predictor(m, bs=1, precision="bf16").predict_images(faces, detect=False),
                 f"bf16 bs={bs}": lambda: Predictor(m, bs=bs, precision="bf16").predict_images(faces, detect=False)}
        print(f"\n{name}")
        if comp:
            one = lambda b: Predictor(m, bs=b, precision="bf16", compile=True).predict_images(faces[:b], detect=False)
            tcb, _ = timed(lambda: one(bs)); tc1, _ = timed(lambda: one(1))
            print(f"  torch.compile, once per model and batch size: {tcb:.0f} s for bs={bs}, {tc1:.0f} s for bs=1")
            photo["batched bf16 compiled"] = lambda: Predictor(m, bs=bs, precision="bf16", compile=True).predict_media(files)
            crops["bf16 bs=1 compiled"] = lambda: Predictor(m, bs=1, precision="bf16", compile=True).predict_images(faces, detect=False)
            crops[f"bf16 bs={bs} compiled"] = lambda: Predictor(m, bs=bs, precision="bf16", compile=True).predict_images(faces, detect=False)
        ways = {**photo, **crops}
        Predictor(m).predict_media(files[:2]); Predictor(m, bs=1).predict_images(faces[:2], detect=False)          # warm-up
        Predictor(m, bs=1, precision="bf16").predict_images(faces[:2], detect=False)
        res = {k: [] for k in ways}; out = {}
        for _ in range(repeats):                                     # interleaved
            for k, f in ways.items():
                t, out[k] = timed(f); res[k].append(t)
        t = {k: min(v) for k, v in res.items()}
        pb = probs_of(out["batched fp32"]); p1 = np.stack([f["probs"] for fc in out["one at a time fp32 (as before)"] for f in fc])
        assert np.abs(pb - p1).max() < 1e-4, np.abs(pb - p1).max()
        assert np.abs(out[f"fp32 bs={bs}"] - out["fp32 bs=1"]).max() < 1e-4
        base = t["one at a time fp32 (as before)"]
        tdet = min(timed(lambda: [detect_faces(read_image(f)) for f in files])[0] for _ in range(repeats))
        print(f"  photos ({len(pb)} faces: read, detect, classify); read + detect alone {1000 * tdet / n:.0f} ms a photo, "
              f"so no classifier can take them past {base / tdet:.2f}x one at a time fp32")
        for k in photo: print(f"    {k:>32}: {len(pb) / t[k]:7.1f} faces/s  ({t[k]:.2f} s)  {base / t[k]:5.2f}x one at a time fp32")
        print(f"  classifier alone ({n} crops)")
        for k in crops: print(f"    {k:>32}: {n / t[k]:7.1f} faces/s  ({t[k]:.2f} s)  {t['fp32 bs=1'] / t[k]:5.2f}x fp32 bs=1")
        same = [(f"bf16 bs={bs}", "bf16 bs=1")] + ([(f"bf16 bs={bs} compiled", "bf16 bs=1 compiled")] if comp else [])
        print("  batching alone, same precision: " + "; ".join(f"{a} vs {b}: {t[b] / t[a]:.2f}x" for a, b in
              [(f"fp32 bs={bs}", "fp32 bs=1")] + same) + f"; photos batched vs one at a time, fp32: {base / t['batched fp32']:.2f}x")
        for label, kw in [("fp32", {})] + ([("bf16 compiled", dict(precision="bf16", compile=True))] if comp else []):
            tv, fr = timed(lambda: Predictor(m, bs=bs, **kw).predict_video(vid, annotate=d / "out.mp4", force=True, progress=False))
            print(f"  video end to end (decode, detect, track, classify, encode), {label}: {nf / tv:.1f} frames/s "
                  f"({fr.id.notna().sum()} faces in {nf} frames, {tv:.2f} s)")


if __name__ == "__main__": main()
