"""Property tests of every reader: random truncations, byte flips and insertions of valid files either read or raise
`LhcFerError` (one message naming the file), never anything else. About 40 examples per reader."""
import gzip, io
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from lhc_fer.config import LhcFerError
from lhc_fer.data import FerData, read_fer2013_csv, read_ferplus, read_image, read_labelled_list
from lhc_fer.loaders import load_fer

EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOT = [ord(c) for c in ',"\n\r -+9²'] + [0, 0x80, 0xC3, 0xFF]     # bytes that change a csv's meaning (² is 0xC2 0xB2)

def fer_csv(n=6, side=3):
    "A valid FER2013 csv of `n` faces side x side."
    us = ["Training", "PublicTest", "PrivateTest"]
    rows = [f"{i % 7},{' '.join(str((i * 37 + j * 11) % 256) for j in range(side * side))},{us[i % 3]}" for i in range(n)]
    return ("emotion,pixels,Usage\n" + "\n".join(rows) + "\n").encode()

FP = ("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
      "Training,fer0.png,0,8,1,0,0,0,0,0,1,0\nTraining,fer1.png,4,0,0,0,4,0,0,0,2,0\nPublicTest,fer2.png,0,0,0,0,0,0,7,0,0,3\n"
      "PrivateTest,fer3.png,1,0,0,9,0,0,0,0,0,0\nTraining,,10,0,0,0,0,0,0,0,0,0\nPublicTest,fer5.png,0,0,6,0,0,0,0,0,4,0\n").encode()
LIST = b"path,label,split\nimg/a.png,happy,train\nimg/b.png,3,valid\nimg/c.jpg,Sadness,test\nimg/a.png,0,train\n"

def image_bytes(fmt, mode="RGB", size=12):
    a = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    im = Image.fromarray(a).convert(mode) if mode != "I;16" else Image.fromarray((a[..., 0].astype(np.uint16) * 257))
    f = io.BytesIO(); im.save(f, fmt); return f.getvalue()

@st.composite
def mutated(draw, data:bytes):
    "`data` truncated, with bytes flipped or inserted (often at commas, newlines and the first bytes), or several of these."
    b = bytearray(data)
    special = [i for i, c in enumerate(data) if c in b",\n"] + list(range(min(40, len(data))))
    pos = lambda n: draw(st.one_of(st.integers(0, max(n - 1, 0)), st.sampled_from([i for i in special if i < n] or [0])))
    for op in draw(st.lists(st.sampled_from(["flip", "insert", "truncate"]), min_size=1, max_size=4)):
        if op == "truncate": b = b[:draw(st.integers(0, len(b)))]
        elif op == "flip" and b: b[pos(len(b))] = draw(st.one_of(st.sampled_from(HOT), st.integers(0, 255)))
        elif op == "insert": i = pos(len(b)); b[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(b)

def run(data, check):
    "Run `check(bytes)` over mutations of `data`; the number of examples it ran."
    n = [0]
    @SETTINGS
    @given(mutated(data))
    def test(b):
        n[0] += 1; check(b)
    test()
    return n[0]

def expect_ok_or_error(work, f, *a, **kw):
    "Call reader `f`: a `FerData`/array, or an `LhcFerError` whose lines are printable and whose first names a file in `work`."
    try: r = f(*a, **kw)
    except LhcFerError as e:
        msg = str(e); msg.encode("utf-8")                  # no lone surrogates
        assert msg.splitlines()[0].startswith(str(work)), msg
        return None
    assert isinstance(r, (FerData, np.ndarray))
    return r

COUNTS = {}

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz"); (d/"img").mkdir()
    (d/"img"/"a.png").write_bytes(image_bytes("PNG", "L")); (d/"img"/"b.png").write_bytes(image_bytes("PNG"))
    (d/"img"/"c.jpg").write_bytes(image_bytes("JPEG"))
    return d

def test_fer2013_csv(work):
    p = work/"fer.csv"
    def check(b):
        p.write_bytes(b)
        for skip in (False, True): expect_ok_or_error(work, read_fer2013_csv, p, skip_bad=skip)
        expect_ok_or_error(work, load_fer, p, skip_bad=True)
    COUNTS["fer2013 csv"] = n = run(fer_csv(), check)
    assert n >= EXAMPLES * 3 // 4

def test_fer2013_csv_gz(work):
    p = work/"fer.csv.gz"
    def check(b): p.write_bytes(b); expect_ok_or_error(work, read_fer2013_csv, p, skip_bad=True)
    COUNTS["fer2013 csv.gz"] = n = run(gzip.compress(fer_csv()), check)
    assert n >= EXAMPLES * 3 // 4

def test_ferplus(work):
    (work/"fp").mkdir(exist_ok=True); p, px = work/"fp"/"fer2013new.csv", work/"fp"/"fer2013.csv"
    def check(b):
        p.write_bytes(b); px.write_bytes(fer_csv())
        for mode in ("majority", "probability"): expect_ok_or_error(work, read_ferplus, p, mode=mode, skip_bad=True)
        p.write_bytes(FP); px.write_bytes(b)                   # and the pixels file damaged instead
        expect_ok_or_error(work, read_ferplus, p)
    COUNTS["fer+ csv"] = n = run(FP, check)
    assert n >= EXAMPLES * 3 // 4

def test_labelled_list(work):
    p = work/"list.csv"
    def check(b):
        p.write_bytes(b)
        for skip in (False, True): expect_ok_or_error(work, read_labelled_list, p, skip_bad=skip)
    COUNTS["labelled list"] = n = run(LIST, check)
    assert n >= EXAMPLES * 3 // 4

@pytest.mark.parametrize("fmt,mode", [("PNG", "RGB"), ("PNG", "I;16"), ("JPEG", "RGB")])
def test_read_image(work, fmt, mode):
    p = work/f"x.{fmt.lower()}"
    def check(b):
        p.write_bytes(b)
        a = expect_ok_or_error(work, read_image, p)
        if a is not None: assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    COUNTS[f"read_image {fmt} {mode}"] = n = run(image_bytes(fmt, mode), check)
    assert n >= EXAMPLES * 3 // 4

def test_zz_report():
    "Examples run per reader (shown with -s)."
    print("\nexamples per reader:", ", ".join(f"{k} {v}" for k, v in COUNTS.items()))
