"""LHC-Net's training-step cost against its host (the paper's pre-activation ResNet34), measured side by side.

One SGD step (forward, cross-entropy, backward, update) of `lhc_net` and `resnet34v2` at 224 px, batch 8, 2 threads,
interleaved in one run (host, LHC-Net, host, ...; the order alternates each round). Two ratios: best step against best
step, and the median over rounds of each round's own ratio (robust to a slow stretch of the shared machine).
Target: LHC-Net <= 1.38x its host, judged on the median paired ratio (best-vs-best swings by +-0.1 on a shared
2-core machine: one lucky or unlucky step decides it). The FLOP ratio (forward, FlopCounterMode) is the floor no implementation beats.
On a GPU: batch 64, bf16 autocast, channels_last.
Usage: python bench/overhead.py [--repeats N] [--batch B] [--img-size S]
"""
import argparse, time
import torch
import torch.nn.functional as F
from lhc_fer.models import lhc_net, resnet34v2, model_report

TARGET = 1.38

def make_step(model, x, y, cuda):
    "One SGD training step of `model` as a closure."
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if cuda: torch.cuda.synchronize()
    return step

def timed(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--img-size", type=int, default=224)
    a = ap.parse_args()
    torch.set_num_threads(2)
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    bs = a.batch or (64 if cuda else 8)
    torch.manual_seed(0)
    fmt = torch.channels_last if cuda else torch.contiguous_format
    models = {"resnet34v2": resnet34v2(img_size=a.img_size), "lhc_net": lhc_net(img_size=a.img_size)}
    flops = {k: model_report(m, a.img_size).flops for k, m in models.items()}
    x = (torch.rand(bs, 1, 48, 48) * 255).to(dev)                   # 48 px faces, upscaled by the input adapter
    y = torch.randint(0, 7, (bs,), device=dev)
    steps = {k: make_step(m.to(dev, memory_format=fmt).train(), x, y, cuda) for k, m in models.items()}
    for s in steps.values(): s(); s()                                # warm up (allocator, kernels, autotuning)
    times = {k: [] for k in steps}
    order = list(steps)
    for r in range(a.repeats):
        for k in (order if r % 2 == 0 else order[::-1]): times[k].append(timed(steps[k]))
    best = {k: min(v) for k, v in times.items()}
    ratio, floor = best["lhc_net"] / best["resnet34v2"], flops["lhc_net"] / flops["resnet34v2"]
    paired = sorted(a / b for a, b in zip(times["lhc_net"], times["resnet34v2"]))
    med = paired[len(paired) // 2]
    print(f"device: {'cuda ' + torch.cuda.get_device_name() if cuda else 'cpu, 2 threads'}; batch {bs}; "
          f"{a.img_size} px; best of {a.repeats} interleaved SGD steps" + ("; bf16 autocast, channels_last" if cuda else ""))
    for k in steps:
        print(f"  {k:11s} {best[k]*1e3:9.1f} ms/step   {flops[k]/1e9:6.2f} GFLOPs/image (forward)")
    print(f"overhead lhc_net / resnet34v2: x{ratio:.3f} best vs best, x{med:.3f} median of {len(paired)} paired rounds "
          f"(target <= {TARGET}; FLOP floor x{floor:.3f})")
    print("PASS" if med <= TARGET else "ABOVE TARGET")

if __name__ == "__main__": main()
