"""Dataset-level attention statistics: `attention_stats` (one capture forward per batch) against a per-image loop, and the model-view redraw.

On the demo's LHC-Net (`lhc_fer.demo.DEMO_CONFIG`: 48 px, quarter width, heads 4, 4, 4, 3, 1; random weights, the
timing does not depend on them, with BatchNorm statistics taken from 256 faces so activations stay in a sane range)
and synthetic faces with their region masks:
  batched      lhc_fer.analysis.attention_stats over all N faces, by class, bs=64, storing its cache
               (target: 3,000 faces in <= 60 s on 2 CPU cores)
  per image    the same call with bs=1 on a subset: one capture forward per face (the loop it replaces)
  subset       the batched call on that same subset, for the ratio; both tables are checked equal (1e-3: fp32 sums in a
               batch differ slightly from one image's)
  cached       the same call again: the stored table and maps read back (best of 3)
  model view   lhc_fer.attention.plot_model_view from already-captured maps (8 faces), figure built and rendered
               (Agg canvas draw), best of 5 (target: <= 0.3 s), also for one image and with cluster=True
Wall and process CPU seconds are both printed: on a shared machine the wall time overstates the cost.
Usage: python bench/analysis.py [--quick] [--n N] [--subset M] [--threads T]   (default 3000 faces, subset 100; --quick: 700 and 70)
"""
import argparse, shutil, tempfile, time, warnings
import numpy as np
import torch
import matplotlib
matplotlib.use("Agg")
from lhc_fer.analysis import attention_stats
from lhc_fer.attention import capture_attention, plot_model_view
from lhc_fer.synthetic import synthetic_faces
from lhc_fer.demo import DEMO_CONFIG
from lhc_fer.models import model_from_config


CPU = {}  # label -> process CPU seconds of the best run (all threads): on a shared machine wall time overstates the cost

def timed(f, repeats=1, label=None):
    "Best wall time of `repeats` calls, and the last result; the best run's CPU seconds go to `CPU[label]`."
    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time(); r = f()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    if label: CPU[label] = cpu
    return best, r


def calibrate(model, x):
    "BatchNorm running statistics from the faces `x`: untrained ones make activations (and fp32 noise) huge."
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)): m.reset_running_stats(); m.momentum = None
    model.train()
    with torch.no_grad(): model(x)
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="700 faces, a subset of 70")
    ap.add_argument("--n", type=int, default=None, help="faces for the batched run (default 3000)")
    ap.add_argument("--subset", type=int, default=None, help="faces for the per-image comparison (default 100)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (on a busy machine 1 can beat 2)")
    a = ap.parse_args()
    n, m = a.n or (700 if a.quick else 3000), a.subset or (70 if a.quick else 100)
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = model_from_config(DEMO_CONFIG).eval()
    t0 = time.perf_counter(); faces = synthetic_faces(n, seed=0); t_data = time.perf_counter() - t0
    sub = faces.subset(np.arange(m))
    calibrate(model, torch.from_numpy(faces.images[-256:]).float()[:, None])
    print(f"demo LHC-Net ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters), {n} synthetic faces "
          f"(made in {t_data:.1f} s), {torch.get_num_threads()} threads")

    d = tempfile.mkdtemp()
    t_all, st = timed(lambda: attention_stats(model, faces, split=None, by="class", bs=64, cache=d), label="all")  # computes and stores
    t_hit, _ = timed(lambda: attention_stats(model, faces, split=None, by="class", bs=64, cache=d), repeats=3)
    shutil.rmtree(d)
    print(f"   batched: {t_all:6.2f} s for {n} faces ({n / t_all:7.1f} img/s; {CPU['all']:.1f} CPU s), {len(st)} rows, "
          f"{len(st.attrs['maps'])} mean maps, regions {st.attrs['regions']}")
    t_sub, s_b = timed(lambda: attention_stats(model, sub, split=None, bs=64), label="sub")
    t_one, s_1 = timed(lambda: attention_stats(model, sub, split=None, bs=1), label="one")
    cols = ["entropy", "max_weight", "p", "contribution", *s_b.attrs["regions"]]
    a, b = s_b[cols].values, s_1[cols].values
    rel = np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1.0))
    assert rel < 1e-3, f"per-image and batched statistics differ ({rel:.2e})"
    print(f"    subset: {t_sub:6.2f} s for {m} faces batched ({m / t_sub:7.1f} img/s), per image {t_one:6.2f} s "
          f"({m / t_one:7.1f} img/s); tables agree to {rel:.1e} (relative)")
    print(f"batched vs per image: {t_one / t_sub:.2f}x (CPU time: {CPU['one'] / CPU['sub']:.2f}x)")

    print(f"    cached: second call {t_hit:.3f} s (table and maps read back; {t_all / t_hit:.0f}x faster than computing)")

    maps = capture_attention(model, torch.from_numpy(faces.images[:8]).float()[:, None])
    def view(**kw):
        fig = plot_model_view(maps, **kw); fig.canvas.draw()
        return fig
    view()                                                           # warm-up (fonts, colormaps)
    t_view, fig = timed(view, repeats=5)
    t_clu, _ = timed(lambda: view(cluster=True), repeats=5)
    t_img, _ = timed(lambda: view(image=3), repeats=5)
    print(f"model view: {t_view:.3f} s batch average, {t_img:.3f} s one image, {t_clu:.3f} s clustered "
          f"({len(maps)} modules x {max(mp.heads for mp in maps.values())} heads, best of 5, built + drawn)")


if __name__ == "__main__": main()
