"Tiny training settings shared by the tests: 16 px inputs, a quarter-width host, one LHC head per module."
from lhc_fer.config import Config

TINY = ["--img-size", "16", "--width", "0.25", "--heads", "1", "1", "1", "1", "1", "--emb", "4", "4", "4", "4", "4"]
TINY_CFG = Config(img_size=16, width=0.25, heads=(1, 1, 1, 1, 1), emb=(4, 4, 4, 4, 4))

import torch, torch.nn as nn
from lhc_fer.lhc import LHC

class Tiny(nn.Module):
    "A toy classifier with two LHC modules (the second without a controller), for the attention and attribution notebooks."
    def __init__(self, n_classes=7):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.a1 = LHC(8, (4, 6), heads=3, emb=4, controller=0.5)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.a2 = LHC(8, (2, 3), heads=2, emb=3)
        self.fc = nn.Linear(8, n_classes)
    def forward(self, x):                                  # (B, 1, 8, 12) pixels in 0-255
        x = self.a1(torch.relu(self.c1(x / 255.)))         # (B, 8, 4, 6)
        x = self.a2(torch.relu(self.c2(x)))                # (B, 8, 2, 3)
        return self.fc(x.mean((2, 3)))                     # (B, 7) logits

import torch.nn.functional as F

class TinyNet(nn.Module):
    "A stand-in classifier with the models contract (pixels 0-255 in, resized to `img_size`, gray→3, logits out), for the evaluate, faces and export notebooks."
    def __init__(self, img_size=32, n_classes=7):
        super().__init__(); self.img_size = img_size
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1); self.fc = nn.Linear(8 * 4 * 4, n_classes)
    def forward(self, x):                                                   # (B, 1|3, H, W) in 0-255
        x = F.interpolate(x.float(), size=(self.img_size,) * 2, mode="bilinear", align_corners=False)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = F.adaptive_avg_pool2d(torch.relu(self.conv(x / 255 - 0.5)), 4)  # (B, 8, 4, 4)
        return self.fc(x.flatten(1))                                        # (B, 7) logits
