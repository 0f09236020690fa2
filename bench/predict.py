"""`lhc-fer predict` throughput: faces of many photos batched into one forward per `bs` against one photo at a time.

Side by side in one run, for the demo's model (`DEMO_CONFIG`, 48 px, quarter width) and the paper's full-width
LHC-Net at 224 px:
  batched        lhc_fer.faces.predict_media: every photo read and its faces detected, crops sent `bs` at a time
  one at a time  lhc_fer.faces.predict_faces per photo: read, detect, one forward for that photo's face(s)
and the classifier alone (48 px crops already cut): `predict_images(detect=False)` with bs=64 against bs=1.
Then a video end to end (decode, detect, track, classify, encode the annotated copy) with `predict_video`, in frames/s.
Outputs are checked equal (1e-4); interleaved, best of `--repeats`; prints faces/s and ratios (about 1.5 min on 2 CPU cores).
Usage: python bench/predict.py [--quick] [--photos N] [--frames N] [--repeats R]
"""
import argparse, tempfile, time, warnings
from pathlib import Path
import cv2
import numpy as np
import skimage.data
import torch
from lhc_fer.core import default_device
from lhc_fer.demo import DEMO_CONFIG
from lhc_fer.faces import crop_face, predict_faces, predict_images, predict_media, predict_video
from lhc_fer.models import lhc_net, model_from_config


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


def best(f, repeats):
    "(seconds, result): the best of `repeats` runs of f."
    ts, r = [], None
    for _ in range(repeats):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer photos and frames")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats, best kept (default 1)")
    ap.add_argument("--photos", type=int, default=None, help="photos (default 12, quick 6)")
    ap.add_argument("--frames", type=int, default=None, help="video frames (default 30, quick 12)")
    a = ap.parse_args()
    torch.set_num_threads(2); torch.manual_seed(0)
    dev, repeats = default_device(), a.repeats
    n, nf = a.photos or (6 if a.quick else 12), a.frames or (12 if a.quick else 30)
    d = Path(tempfile.mkdtemp()); files = photos(d, n); vid = clip(d / "clip.mp4", nf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                               # heads="auto" reports the counts it moved
        models = {"demo (48 px, width 0.25)": model_from_config(DEMO_CONFIG),
                  "paper (224 px, full width)": lhc_net(img_size=224, heads="auto")}
    print(f"device {dev}, {torch.get_num_threads()} threads, {n} photos, a {nf}-frame 480x360 video, "
          f"best of {repeats}")
    for name, m in models.items():
        m = m.to(dev).eval()
        faces = np.stack([crop_face(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), (177 - 3 * (i % 7), 66 - 2 * (i % 5), 95, 95))
                          for i, f in enumerate(files)])            # (n, 48, 48)
        predict_media(m, files[:2]); predict_images(m, faces[:2], detect=False, bs=1)   # warm-up
        ways = {"batched": lambda: predict_media(m, files, bs=64),
                "one at a time": lambda: [predict_faces(m, f) for f in files],
                "classifier bs=64": lambda: predict_images(m, faces, detect=False, bs=64),
                "classifier bs=1": lambda: predict_images(m, faces, detect=False, bs=1)}
        res = {k: [] for k in ways}; out = {}
        for _ in range(repeats):                                     # interleaved
            for k, f in ways.items():
                t, out[k] = best(f, 1); res[k].append(t)
        t = {k: min(v) for k, v in res.items()}
        c = list(out["batched"].columns); cls = c[c.index("h") + 1:c.index("top")]
        pb = out["batched"][cls].to_numpy(); p1 = np.stack([f["probs"] for fc in out["one at a time"] for f in fc])
        assert np.abs(pb - p1).max() < 1e-4, np.abs(pb - p1).max()
        assert np.abs(out["classifier bs=64"] - out["classifier bs=1"]).max() < 1e-4
        print(f"\n{name}")
        for k, v in t.items(): print(f"  {k:>17}: {(len(pb) if k in ('batched', 'one at a time') else n) / v:8.1f} faces/s  ({v:.2f} s)")
        print(f"  photos batched vs one at a time: {t['one at a time'] / t['batched']:.2f}x; "
              f"classifier bs=64 vs bs=1: {t['classifier bs=1'] / t['classifier bs=64']:.2f}x")
        tv, fr = best(lambda: predict_video(m, vid, annotate=d / "out.mp4", force=True, progress=False), 1)
        print(f"  video end to end (decode, detect, track, classify, encode): {nf / tv:.1f} frames/s "
              f"({fr.id.notna().sum()} faces in {nf} frames, {tv:.2f} s)")


if __name__ == "__main__": main()
