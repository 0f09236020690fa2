"""`lhc-fer data check` and `lhc-fer data synth` (in-process `lhc_fer.cli.main`, `conftest.lhc`): exit codes,
FILE:LINE messages, no tracebacks."""
import re
import numpy as np
import pytest
from conftest import lhc, one_line_error

def pix(k, n=2304): return " ".join(str((k * 7 + i) % 256) for i in range(n))

@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    "A small synthetic csv written by `lhc-fer data synth` (shared by the tests below)."
    out = tmp_path_factory.mktemp("synth")/"faces.csv"
    rc, so, se = lhc("data", "synth", out, "--n", 70, "--seed", 3)
    assert rc == 0 and se == "", se
    return out, so

def test_synth_writes_fer2013(synth):
    out, so = synth
    lines = out.read_text().splitlines()
    assert lines[0] == "emotion,pixels,Usage" and len(lines) == 71
    e, p, u = lines[1].split(",")
    assert 0 <= int(e) <= 6 and len(p.split()) == 48 * 48 and u in ("Training", "PublicTest", "PrivateTest")
    assert "wrote 70 synthetic faces" in so
    # the same faces as the library draws (an independent read: plain str.split)
    from lhc_fer.synthetic import synthetic_faces
    d = synthetic_faces(70, seed=3)
    got = np.array([[int(v) for v in l.split(",")[1].split()] for l in lines[1:]], np.uint8).reshape(70, 48, 48)
    assert (got == d.images).all() and [int(l.split(",")[0]) for l in lines[1:]] == d.labels.tolist()

def test_synth_refuses_overwrite(synth, tmp_path):
    out = tmp_path/"faces.csv"; out.write_bytes(synth[0].read_bytes())
    before = out.read_bytes()
    one_line_error(lhc("data", "synth", out, "--n", 14), "exists", "--force")
    assert out.read_bytes() == before                       # untouched
    rc, so, se = lhc("data", "synth", out, "--n", 14, "--force")
    assert rc == 0 and len(out.read_text().splitlines()) == 15

def test_synth_bad_difficulty(tmp_path):
    one_line_error(lhc("data", "synth", tmp_path/"x.csv", "--n", 7, "--difficulty", "medium"), "difficulty='medium'")
    assert not (tmp_path/"x.csv").exists()

def test_check_clean(synth):
    out, _ = synth
    rc, so, se = lhc("data", "check", out)
    assert rc == 0 and "Traceback" not in so + se, so + se
    assert "fer2013 csv" in so and "70 faces 48x48" in so
    assert re.search(r"^happy\s+\d", so, re.M)                # per-class counts
    assert "train" in so and "valid" in so and "test" in so
    table = {m[0]: [float(v) for v in m[1:]] for m in re.findall(r"^(\w+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +[\d.]+$", so, re.M)}
    classes, split = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], ["Training", "PublicTest", "PrivateTest"]
    want = {c: [0, 0, 0] for c in classes}                     # counted here from the csv's own columns
    for l in out.read_text().splitlines()[1:]: e, _, u = l.split(","); want[classes[int(e)]][split.index(u)] += 1
    assert table == {c: [*v, sum(v)] for c, v in want.items()}, so

def test_check_bad_rows(tmp_path):
    f = tmp_path/"bad.csv"
    rows = ["emotion,pixels,Usage", f"3,{pix(1)},Training", f"9,{pix(2)},Training", f"2,{pix(3, 2000)},PublicTest",
            f"1,{' '.join(['four'] + pix(4).split()[1:])},Training", f"4,{pix(5)},Trainig", f"5,{pix(6)},PrivateTest"]
    f.write_text("\r\n".join(rows))                          # CRLF, no final newline
    before = f.read_bytes()
    rc, so, se = lhc("data", "check", f)
    assert rc == 2 and "Traceback" not in so + se, so + se
    probs = [l for l in so.splitlines() if re.match(rf"^{re.escape(str(f))}:\d+: ", l)]
    assert [int(l[len(str(f)) + 1:].split(":")[0]) for l in probs] == [3, 4, 5, 6]
    assert "emotion 9 out of range 0-6" in probs[0]
    assert "found 2000 pixel values, expected 2304 (48x48)" in probs[1]
    assert "non-numeric pixel value 'four' (pixel 1)" in probs[2]
    assert "unknown Usage 'Trainig'" in probs[3]
    assert "2 faces 48x48" in so                             # the good rows are still counted
    assert f.read_bytes() == before                          # never touched

def test_check_fatal_errors(tmp_path):
    (tmp_path/"empty.csv").write_text("")
    rc, so, se = lhc("data", "check", tmp_path/"empty.csv")
    assert rc == 2 and f"{tmp_path/'empty.csv'}:1: empty file" in so and "Traceback" not in so + se
    (tmp_path/"bin.csv").write_bytes(b"emotion,pixels\n0,1 2 3\n\x89PNG\x00\x00")
    rc, so, se = lhc("data", "check", tmp_path/"bin.csv")
    assert rc == 2 and f"{tmp_path/'bin.csv'}:3: binary content" in so and "Traceback" not in so + se

def test_check_image_folder(tmp_path):
    from PIL import Image
    for s, c in [("train", "happy"), ("train", "Sadness"), ("test", "happy")]:
        (tmp_path/s/c).mkdir(parents=True)
        for i in range(3): Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(tmp_path/s/c/f"{i}.png")
    (tmp_path/"train"/"happy"/"broken.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    rc, so, se = lhc("data", "check", tmp_path)
    assert rc == 2 and "image folder (split/class)" in so and "9 faces 48x48" in so and "Traceback" not in so + se
    assert f"{tmp_path/'train'/'happy'/'broken.png'}: unreadable or truncated image" in so
