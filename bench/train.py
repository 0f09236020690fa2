"""CPU train-step throughput of the host (resnet34v2) vs LHC-Net at the demo's size, measured interleaved in one run.

One step = forward + cross-entropy + backward + AdamW step on a batch of 48 px faces (the models resize them to
`DEMO_CONFIG.img_size` on the device). Best of several repeats per model; 2 torch threads. Prints img/s and the
ratio LHC-Net / host (the LHC modules' training overhead)."""
import sys, time
import torch
import torch.nn.functional as F
from lhc_fer.demo import DEMO_CONFIG
from lhc_fer.models import model_from_config

def main(bs:int=32, repeats:int=4):
    torch.set_num_threads(2); torch.manual_seed(0)
    cfg = DEMO_CONFIG
    models = {"host (resnet34v2)": model_from_config(cfg, arch="resnet34v2"), "LHC-Net": model_from_config(cfg)}
    opts = {k: torch.optim.AdamW(m.parameters(), 1e-3) for k, m in models.items()}
    x = torch.rand(bs, 1, 48, 48) * 255; y = torch.randint(0, cfg.n_classes, (bs,))
    def step(k):
        m, o = models[k], opts[k]
        t = time.perf_counter()
        F.cross_entropy(m(x), y).backward(); o.step(); o.zero_grad(set_to_none=True)
        return time.perf_counter() - t
    for k in models: models[k].train(); step(k)  # warm-up
    best = {k: float("inf") for k in models}
    for _ in range(repeats):                     # interleaved: host, LHC, host, LHC, ...
        for k in models: best[k] = min(best[k], step(k))
    print(f"train step, batch {bs}, img_size {cfg.img_size}, heads {cfg.heads}, emb {cfg.emb}, 2 threads, best of {repeats}")
    for k, b in best.items(): print(f"  {k:18s} {bs / b:8.1f} img/s")
    h, l = best["host (resnet34v2)"], best["LHC-Net"]
    print(f"  ratio LHC-Net / host throughput: {h / l:.2f}  (LHC modules cost {100 * (l / h - 1):.0f}% per step)")

if __name__ == "__main__": main(*map(int, sys.argv[1:]))
