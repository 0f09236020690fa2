"""Optuna studies (`lhc_fer.study`), measured side by side in one run on tiny trials (synthetic faces, an eighth-width
host at 16 px):

- throughput: the same 6-point grid run by 1 and by 2 local worker processes (each started the same way, SQLite
  storage), in trials per hour (wall time, process start included) and the ratio, with each run's time to its first
  trial and its mean trial time (two workers gain only where two cores are free);
- overhead: the study machinery's time per trial beyond training (asking, locks, study.json, per-epoch reports,
  storing the result, looking for stale trials), from an in-process study whose training calls are timed; target < 1 s;
- pruning: the same seeded TPE study over the learning rate with the median pruner and without: epochs trained, the
  share pruning saved, and the best value of each.

Usage: python bench/study.py [--grid N] [--trials N] [--faces N]
"""
import argparse, datetime, os, sys, tempfile, time
from pathlib import Path
import warnings
warnings.filterwarnings("ignore", category=FutureWarning)
import torch
import lhc_fer.study as S
from lhc_fer.config import Config
from optuna.trial import TrialState

TINY = Config(img_size=16, width=0.125, heads=(1,) * 5, emb=(4,) * 5, epochs=4, bs=32)
TARGET_OVERHEAD = 1.0  # seconds per trial


def throughput(d:Path, k:int, n:int, faces:int) -> tuple:
    "(trials per hour, wall seconds, seconds to the first trial's start, mean seconds a trial) of an n-point grid, k workers."
    task, _ = S.plan_study(f"synthetic:{faces}", d/f"w{k}", {"lr": [round(1e-3 * 1.5 ** i, 6) for i in range(n)]}, cfg=TINY,
                           pruner="none")
    with S.quiet_optuna(): S.start_study(task)
    t0 = datetime.datetime.now(); t = time.perf_counter()
    rcs = S.spawn_workers(task, k, echo=False); wall = time.perf_counter() - t
    assert rcs == [0] * k, f"workers exited {rcs}"
    with S.quiet_optuna(): trials = S.worker_study(task).trials
    start = min(x.datetime_start for x in trials) - t0
    return 3600 * n / wall, wall, start.total_seconds(), sum(x.duration.total_seconds() for x in trials) / n


def overhead(d:Path, n:int, faces:int) -> tuple:
    "(seconds per trial beyond training, seconds of training per trial) of an in-process n-point grid."
    spent, train = [], S.PROTOCOLS["fast"]
    def timed(*a, **kw):
        t = time.perf_counter()
        try: return train(*a, **kw)
        finally: spent.append(time.perf_counter() - t)
    S.PROTOCOLS["fast"] = timed
    try:
        t = time.perf_counter()
        S.run_study(f"synthetic:{faces}", d/"overhead", {"lr": [round(1e-3 * 1.5 ** i, 6) for i in range(n)]}, cfg=TINY,
                    pruner="none", echo=False)
        wall = time.perf_counter() - t
    finally: S.PROTOCOLS["fast"] = train
    assert len(spent) == n
    return (wall - sum(spent)) / n, sum(spent) / n


def pruning(d:Path, n:int, faces:int, pruner:str) -> tuple:
    "(epochs trained, best value, trials pruned) of the seeded TPE study over lr with `pruner`."
    st = S.run_study(f"synthetic:{faces}", d/f"prune_{pruner}", {"lr": (1e-5, 1e-1, "log")}, n_trials=n, pruner=pruner,
                     seed=0, cfg=TINY, echo=False)
    return (sum(len(t.intermediate_values) for t in st.trials), st.best_value,
            sum(t.state == TrialState.PRUNED for t in st.trials))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=6, help="grid points of the throughput and overhead studies")
    ap.add_argument("--trials", type=int, default=12, help="trials of each pruning study")
    ap.add_argument("--faces", type=int, default=300, help="synthetic faces of the throughput and overhead studies")
    ap.add_argument("--prune-faces", type=int, default=1000, help="synthetic faces of the pruning studies (100 to validate on)")
    a = ap.parse_args()
    torch.set_num_threads(1); os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (h1, s1, f1, m1), (h2, s2, f2, m2) = throughput(d, 1, a.grid, a.faces), throughput(d, 2, a.grid, a.faces)
        print(f"throughput, {a.grid} trials: 1 worker {h1:.0f} trials/h ({s1:.1f} s), 2 workers {h2:.0f} trials/h "
              f"({s2:.1f} s): x{h2 / h1:.2f} on {os.cpu_count()} cores (process start included: first trial after "
              f"{f1:.1f} s / {f2:.1f} s; a trial takes {m1:.2f} s / {m2:.2f} s)")
        over, tr = overhead(d, a.grid, a.faces)
        print(f"overhead per trial beyond training: {over:.3f} s (training {tr:.2f} s a trial); target < {TARGET_OVERHEAD:g} s: "
              f"{'PASS' if over < TARGET_OVERHEAD else 'FAIL'}")
        (e_m, b_m, p_m), (e_n, b_n, _) = pruning(d, a.trials, a.prune_faces, "median"), pruning(d, a.trials, a.prune_faces, "none")
        print(f"pruning, seeded TPE over lr, {a.trials} trials: median pruner {e_m} epochs ({p_m} pruned), none {e_n} epochs: "
              f"{1 - e_m / e_n:.0%} of the epochs saved; best accuracy {b_m:.4f} with pruning, {b_n:.4f} without")
    return 0 if over < TARGET_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
