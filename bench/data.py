"""Data loading speed: `read_fer2013_csv` (numpy-vectorised) against `pandas.read_csv` + per-row `str.split`.

Writes a full-size FER2013-format csv (35,887 faces of random pixels, about 290 MB like the real file) to a temporary
folder, then reads it both ways, interleaved, best of 3; checks both give the same images; prints times and the
ratio. Also times `synthetic_faces(3500)` (process CPU time and wall time). Usage: python bench/data.py [--quick]
(--quick: 3,589 rows).
"""
import sys, tempfile, time
from pathlib import Path
import numpy as np
import pandas as pd
import torch
from lhc_fer.data import FerData, read_fer2013_csv, write_fer2013_csv
from lhc_fer.synthetic import synthetic_faces

def pandas_way(f):
    "The common recipe: pandas.read_csv, then np.array(s.split()) per row."
    df = pd.read_csv(f)
    return np.stack([np.array(s.split(), np.uint8) for s in df["pixels"]]).reshape(-1, 48, 48)

def main(quick=False):
    torch.set_num_threads(2)
    n = 3589 if quick else 35887
    with tempfile.TemporaryDirectory() as d:
        f = Path(d)/"fer2013.csv"
        data = FerData(np.random.default_rng(0).integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n) % 7,
                       np.where(np.arange(n) % 10 < 8, "train", np.where(np.arange(n) % 10 < 9, "valid", "test")))
        t = time.perf_counter(); write_fer2013_csv(data, f); tw = time.perf_counter() - t
        print(f"wrote {n} rows, {f.stat().st_size / 1e6:.0f} MB in {tw:.2f} s")
        wall = {"read_fer2013_csv": [], "pandas + str.split": []}; cpu = {k: [] for k in wall}
        for _ in range(3):
            for k, fn in (("read_fer2013_csv", lambda: read_fer2013_csv(f).images), ("pandas + str.split", lambda: pandas_way(f))):
                t, c = time.perf_counter(), time.process_time(); imgs = fn()
                wall[k].append(time.perf_counter() - t); cpu[k].append(time.process_time() - c)
                assert (imgs == data.images).all()
        bw, bc = {k: min(v) for k, v in wall.items()}, {k: min(v) for k, v in cpu.items()}
        for k in wall: print(f"{k:>20}: {bw[k]:.2f} s wall, {bc[k]:.2f} s CPU (best of 3)")
        print(f"speed-up: {bw['pandas + str.split'] / bw['read_fer2013_csv']:.1f}x wall, "
              f"{bc['pandas + str.split'] / bc['read_fer2013_csv']:.1f}x CPU")
    for _ in range(2):
        c, w = time.process_time(), time.perf_counter(); synthetic_faces(3500)
        print(f"synthetic_faces(3500): {time.process_time() - c:.2f} s CPU, {time.perf_counter() - w:.2f} s wall")

if __name__ == "__main__": main("--quick" in sys.argv)
