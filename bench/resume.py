"""Random SIGKILLs: a tiny run killed at random moments and resumed each time must end with the weights of a run that was
never interrupted (max |Δw| printed; 0 is the target), and no kill may leave a lock or file that blocks `--resume`.

Side by side in one run: the uninterrupted run, then the same run killed after a random 1-6 s (process start
included) and resumed with `--resume` until it finishes. Tiny settings: 16 px, a quarter-width host, one head per
LHC module, 70 synthetic faces, 40 host epochs + 13 LHC epochs, one thread per process.
Usage: python bench/resume.py [--kills N] [--seed S]
"""
import argparse, os, random, subprocess, sys, tempfile, time
from pathlib import Path
import torch
from safetensors.torch import load_file

LHC = str(Path(sys.executable).parent/"lhc-fer")
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
TINY = ["--img-size", "16", "--width", "0.25", "--heads", "1", "1", "1", "1", "1", "--emb", "4", "4", "4", "4", "4",
        "--epochs", "40", "--protocol", "fast"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=8, help="most kills before letting the run finish")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); csv = d/"faces.csv"
        subprocess.run([LHC, "data", "synth", str(csv), "--n", "70"], check=True, capture_output=True, env=ENV)
        t = time.time()
        subprocess.run([LHC, "train", str(csv), "--out", str(d/"straight"), *TINY], check=True, capture_output=True, env=ENV)
        straight = time.time() - t
        run, kills, first = d/"killed", 0, True
        while True:
            p = subprocess.Popen([LHC, "train", str(csv), "--out", str(run), *TINY, *([] if first else ["--resume"])],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, text=True)
            first = False
            if kills < a.kills:
                try: p.wait(timeout=rng.uniform(1, 6))
                except subprocess.TimeoutExpired: p.kill(); p.wait(); kills += 1; continue
            err = p.communicate()[1]
            if p.returncode != 0: print(f"FAIL: resume after {kills} kills exited {p.returncode}: {err.strip()[-300:]}"); return 1
            break
        wa, wb = load_file(str(d/"straight"/"model.safetensors")), load_file(str(run/"model.safetensors"))
        diff = max((wa[k].double() - wb[k].double()).abs().max().item() for k in wa)
    print(f"uninterrupted run {straight:.0f} s; {kills} SIGKILLs at random moments, each resumed: max |Δw| = {diff:.3g}"
          f"  {'PASS (bit-identical)' if diff == 0 else 'FAIL'}")
    return 0 if diff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
