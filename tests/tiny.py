"Tiny training settings shared by the tests: 16 px inputs, a quarter-width host, one LHC head per module."
from lhc_fer.core import Config

TINY = ["--img-size", "16", "--width", "0.25", "--heads", "1", "1", "1", "1", "1", "--emb", "4", "4", "4", "4", "4"]
TINY_CFG = Config(img_size=16, width=0.25, heads=(1, 1, 1, 1, 1), emb=(4, 4, 4, 4, 4))
