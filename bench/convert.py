"""Conversion of the original's full LHC-Net checkpoint (the authors' layout, 32.4 M parameters) to safetensors.

Side by side, best of `repeats`, on the same files:
  copy floor   read the checkpoint's bytes and write them again (np.fromfile + tofile): the disk's share
  convert      lhc_fer.original.convert: read the bundle (checksummed, memory-mapped), map every weight, build our
               lhc_net, write safetensors + JSON
  read only    lhc_fer.original.read_original alone
Target: convert <= 5 s on 2 CPU cores. The checkpoint is written with the reference weight recipe (tests/original_files.py).
Usage: python bench/convert.py [--quick]
"""
import argparse, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/"tests"))
from original_files import authors_folder, recipe_weights
from lhc_fer.original import convert_original, read_original


def best(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat")
    a = ap.parse_args()
    torch.set_num_threads(2)
    repeats = 1 if a.quick else 3
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        src = authors_folder(d/"LHC_Net", recipe_weights("lhc_net.keys.tsv"))
        data = next(src.glob("*.data-*"))
        mb = data.stat().st_size / 2**20
        floor = best(lambda: np.fromfile(data, np.uint8).tofile(d/"copy.bin"), repeats)
        read = best(lambda: read_original(src), repeats)
        conv = best(lambda: convert_original(src, d/"lhc_net.safetensors", force=True), repeats)
    print(f"checkpoint: {mb:.0f} MiB, 2 CPU threads, best of {repeats}")
    print(f"copy floor  {floor:6.2f} s")
    print(f"read only   {read:6.2f} s   x{read / floor:.1f} the copy floor")
    print(f"convert     {conv:6.2f} s   x{conv / floor:.1f} the copy floor   target <= 5 s: {'PASS' if conv <= 5 else 'FAIL'}")
    return 0 if conv <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
