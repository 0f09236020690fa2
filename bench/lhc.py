"""LHC forward+backward: `lhc_fer.lhc.LHC` against a straightforward vectorized port, on the paper's five LHC shapes.

Both run side by side (interleaved, best of several repeats) at batch 8 with 2 threads; prints img/s for each,
the ratio, and peak memory (CPU: peak RSS, VmHWM, in a fresh process per implementation; GPU:
max_memory_allocated). A second CPU table times one thread by its own CPU time, which other processes on
the shared cores do not disturb.
On a GPU it also reports bf16 autocast throughput at batch 64. Usage: python bench/lhc.py [--quick]
"""
import math, subprocess, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from lhc_fer.lhc import LHC

# (C, resolution, heads, emb): the five LHC modules of LHC-Net (paper, Table/Settings)
SHAPES = [(64, 56, 8, 196), (64, 56, 8, 196), (128, 28, 7, 56), (256, 14, 7, 14), (512, 7, 1, 25)]


class Straight(nn.Module):
    "A straightforward vectorized port: einsum projections, F pooling, explicit C x C scores and softmax."
    def __init__(self, m: LHC):
        super().__init__()
        self.m = m  # shares the parameters, so both compute the same function

    def forward(self, x):
        m = self.m; B, C, H, W = x.shape; h, d, ps = m.heads, m.d, m.pool_size
        split = lambda t: t.reshape(B, C, h, d).permute(0, 2, 1, 3).contiguous()           # (B, h, C, d)
        q = split(F.avg_pool2d(x, ps, 1, ps // 2, count_include_pad=False))
        k = split(F.max_pool2d(x, ps, 1, ps // 2))
        v = split(F.avg_pool2d(m.wv(x), 3, 1, 1, count_include_pad=False))
        q = torch.einsum("bhcd,hde->bhce", q, m.wqk) + m.bqk[:, None]                      # (B, h, C, emb)
        k = torch.einsum("bhcd,hde->bhce", k, m.wqk) + m.bqk[:, None]
        S = q @ k.transpose(-1, -2)                                                        # (B, h, C, C)
        p = torch.sigmoid(m.wp(S.mean(-1)))                                                # (B, h, C)
        A = torch.softmax(S / m.emb ** (m.norm_c + p)[..., None], dim=-1)
        o = (A @ v).permute(0, 2, 1, 3).reshape(B, C, H, W)
        g = 1 + torch.tanh(m.controller) if m.controller is not None else 1.0
        return x + g * o


def make(bs, dtype=torch.float32, device="cpu"):
    "Per shape: (LHC, Straight, input, output grad); same weights for both."
    torch.manual_seed(0); out = []
    for i, (C, r, h, e) in enumerate(SHAPES):
        m = LHC(C, r, h, e, controller=(0.0, 0.0, 0.0, -1.0, -0.5)[i]).to(device)
        x = torch.randn(bs, C, r, r, device=device, requires_grad=True)
        out.append((m, Straight(m), x, torch.randn(bs, C, r, r, device=device)))
    return out


def step(f, x, gy, amp=None):
    "One forward+backward."
    if amp is None: y = f(x)
    else:
        with torch.autocast(x.device.type, dtype=amp): y = f(x)
    y.backward(gy)


def sync(dev):
    if dev == "cuda": torch.cuda.synchronize()


def timeit(fn, x, gy, dev, amp=None, n=1, clock=time.perf_counter):
    t = clock()
    for _ in range(n): step(fn, x, gy, amp)
    sync(dev)
    return (clock() - t) / n


def peak_cpu(name):
    "Peak RSS (VmHWM) above the RSS after setup, over one fwd+bwd of each shape, in a fresh process."
    r = subprocess.run([sys.executable, __file__, "--mem", name], capture_output=True, text=True)
    if r.returncode: sys.exit(f"bench/lhc.py --mem {name} failed:\n{r.stderr[-2000:]}")
    return int(r.stdout.split()[-1])


def _status_kb(key):
    "A /proc/self/status field in bytes (VmRSS: now, VmHWM: this process image's peak; unlike ru_maxrss,\n    VmHWM is not inherited from the parent across fork+exec)."
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":")) * 1024


def mem_child(name):
    "In a fresh process: build all inputs, then report the RSS growth of fwd+bwd over the five shapes."
    torch.set_num_threads(2)
    mods = make(8)
    k = 0 if name == "lhc" else 1
    base = _status_kb("VmRSS")
    for mod in mods: step(mod[k], mod[2], mod[3])
    print(_status_kb("VmHWM") - base)


def peak_cuda(fn, x, gy, amp=None):
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    step(fn, x, gy, amp); torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def run(bs, dev, amp=None, repeats=7, n=1, label="", clock=time.perf_counter, mem=True):
    mods = make(bs, device=dev)
    for m, s, x, gy in mods:  # same function: check before timing
        with torch.no_grad(), torch.autocast(dev, dtype=amp or torch.bfloat16, enabled=amp is not None):
            err = (m(x).float() - s(x).float()).abs().max().item()
        tol = 1e-3 if amp is None else 0.25
        if not err < tol: sys.exit(f"bench/lhc.py: LHC and the straightforward port disagree by {err:.3g} (> {tol})")
    for m, s, x, gy in mods: step(m, x, gy, amp); step(s, x, gy, amp)  # warm up
    best = {"lhc": [math.inf] * len(mods), "straight": [math.inf] * len(mods)}
    for _ in range(repeats):  # interleaved: every repeat times both, shape by shape
        for i, (m, s, x, gy) in enumerate(mods):
            for name, f in (("lhc", m), ("straight", s)):
                x.grad = None
                best[name][i] = min(best[name][i], timeit(f, x, gy, dev, amp, n, clock))
    print(f"\n{label} batch {bs}, {'fp32' if amp is None else amp}, {dev}, best of {repeats}")
    print(f"{'shape (C, res, heads, emb)':28s} {'LHC ms':>9s} {'straight ms':>12s} {'ratio':>7s}")
    for i, shp in enumerate(SHAPES):
        a, b = best["lhc"][i] * 1e3, best["straight"][i] * 1e3
        print(f"{str(shp):28s} {a:9.2f} {b:12.2f} {b / a:7.2f}x")
    ta, tb = sum(best["lhc"]), sum(best["straight"])
    print(f"all five modules: LHC {bs / ta:.1f} img/s, straightforward {bs / tb:.1f} img/s, ratio {tb / ta:.2f}x")
    if not mem: return tb / ta
    if dev == "cuda":
        peaks = {name: max(peak_cuda(mod[k], mod[2], mod[3], amp) for mod in mods) for name, k in (("lhc", 0), ("straight", 1))}
        what = "peak CUDA memory of one module's fwd+bwd (largest of the five)"
    else:
        peaks = {name: peak_cpu(name) for name in ("lhc", "straight")}
        what = "peak RSS above setup over the five modules' fwd+bwd (fresh process each)"
    print(f"{what}: LHC {peaks['lhc'] / 2**20:.1f} MiB, straightforward {peaks['straight'] / 2**20:.1f} MiB")
    return tb / ta


if __name__ == "__main__":
    if "--mem" in sys.argv: mem_child(sys.argv[sys.argv.index("--mem") + 1]); sys.exit()
    torch.set_num_threads(2)
    quick = "--quick" in sys.argv
    run(8, "cpu", repeats=3 if quick else 7, label="CPU, 2 threads, wall clock:")
    # The 2 cores are often shared: CPU time of one thread is blind to other processes, so its ratio is the steadier one.
    torch.set_num_threads(1)
    run(8, "cpu", repeats=3 if quick else 7, label="CPU, 1 thread, thread CPU time (insensitive to load):",
        clock=time.thread_time, mem=False)
    torch.set_num_threads(2)
    if torch.cuda.is_available():
        run(8, "cuda", repeats=10, n=5, label="GPU")
        run(64, "cuda", amp=torch.bfloat16, repeats=10, n=5, label="GPU")
