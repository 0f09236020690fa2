"`lhc-fer export`, `predict` and `eval` (in-process `lhc_fer.cli.main`, `conftest.lhc`) on a tiny saved LHC-Net."
import json
import numpy as np
import pytest
import torch
from conftest import faces, lhc, one_line_error

@pytest.fixture(scope="module")
def weights(bn_lhc_net):
    """A small LHC-Net (32 px, a quarter-width host, the paper's embeddings, valid head counts) whose BatchNorm statistics
    were gathered on synthetic faces (`conftest.bn_lhc_net`; with random statistics, or tiny embeddings, an untrained
    LHC-Net is ill-conditioned: PyTorch float32 alone then differs from float64 by ~1e-4)."""
    return bn_lhc_net(img_size=32, heads="auto", width=0.25)

@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import cv2, skimage.data
    d = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(d/"astronaut.png"), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d/"coffee.png"), cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR))
    return d

@pytest.mark.slow
def test_export_matches_pytorch(weights, tmp_path):
    import onnxruntime as ort
    from lhc_fer.checkpoint import load_model
    out = tmp_path/"model.onnx"
    r = lhc("export", weights, "--onnx", out)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "max |diff|" in r.stdout
    model = load_model(weights).eval()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = faces(6, seed=12)
    for xb in (x[:1], x[1:]):                                  # the batch axis is dynamic
        with torch.no_grad(): ref = model(xb).numpy()
        got = sess.run(None, {"pixels": xb.numpy()})[0]
        assert got.shape == (len(xb), 7)
        assert np.abs(got - ref).max() <= 1e-4, np.abs(got - ref).max()
    assert json.loads(sess.get_modelmeta().custom_metadata_map["lhc_fer.classes"])[3] == "happy"

def test_predict_finds_the_astronaut(weights, photos):
    r = lhc("predict", weights, photos/"astronaut.png")
    assert r.returncode == 0, r.stderr
    assert "face 1 of 1 at x=177 y=66 w=95 h=95" in r.stdout
    for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"): assert f"  {c} " in r.stdout
    import re, cv2                                               # the printed bars against the face cropped here by hand
    from lhc_fer.checkpoint import load_model
    bars = {c: float(p) for c, p in re.findall(r"^  (\w+) +(\d\.\d{3})  #*$", r.stdout, re.M)}
    g = cv2.cvtColor(cv2.imread(str(photos/"astronaut.png")), cv2.COLOR_BGR2GRAY)
    side = round(95 * 1.4); x0, y0 = round(177 + 47.5 - side / 2), round(66 + 47.5 - side / 2)
    crop = cv2.resize(g[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA)
    with torch.no_grad(): ref = load_model(weights).eval()(torch.from_numpy(crop).float()[None, None]).softmax(-1)[0].numpy()
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert list(bars) == classes, r.stdout
    np.testing.assert_allclose([bars[c] for c in classes], ref, atol=5e-4 + 1e-6)   # printed with 3 decimals
    assert f": {classes[int(ref.argmax())]} ({ref.max():.2f})" in r.stdout.splitlines()[0], r.stdout

def test_predict_json_and_whole_image(weights, photos):
    r = lhc("predict", weights.parent, photos/"astronaut.png", photos/"coffee.png", "--json", "--whole-image")
    assert r.returncode == 0, r.stderr
    face, coffee = json.loads(r.stdout)                                   # one record per face, the CSV's columns
    assert face["file"].endswith("astronaut.png") and [face[c] for c in "xywh"] == [177, 66, 95, 95] and face["face"] == 1
    assert coffee["file"].endswith("coffee.png") and coffee["x"] is None and coffee["status"] == "whole image"
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    p = np.array([face[c] for c in classes])
    assert abs(p.sum() - 1) < 1e-4 and face["top"] == classes[int(p.argmax())]
    import cv2                                                   # the same face, cropped here by hand
    from lhc_fer.checkpoint import load_model
    g = cv2.cvtColor(cv2.imread(str(photos/"astronaut.png")), cv2.COLOR_BGR2GRAY)
    side = round(95 * 1.4); x0, y0 = round(177 + 47.5 - side / 2), round(66 + 47.5 - side / 2)
    crop = cv2.resize(g[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA)
    with torch.no_grad(): ref = load_model(weights).eval()(torch.from_numpy(crop).float()[None, None]).softmax(-1)[0].numpy()
    np.testing.assert_allclose(p, ref, atol=1e-5)

def test_predict_without_a_face(weights, photos):
    r = lhc("predict", weights, photos/"coffee.png")
    one_line_error(r, "coffee.png: no face found", "--whole-image")

def test_eval_on_a_synthetic_csv(weights, tmp_path):
    from lhc_fer.data import write_fer2013_csv, read_fer2013_csv
    from lhc_fer.synthetic import synthetic_faces
    from lhc_fer.checkpoint import load_model
    csv = write_fer2013_csv(synthetic_faces(n=70, seed=3), tmp_path/"faces.csv")
    r = lhc("eval", weights.parent, csv, "--tta", "flip")
    assert r.returncode == 0, r.stderr
    out = weights.parent/"eval-test-tta-flip"                   # the default output folder
    m = json.loads((out/"metrics.json").read_text())
    assert (out/"confusion.png").read_bytes()[:4] == b"\x89PNG"
    test = read_fer2013_csv(csv).subset("test")                 # score it independently: image and mirror, averaged
    x = torch.from_numpy(test.images).float()[:, None]
    model = load_model(weights).eval()
    with torch.no_grad(): p = model(x).softmax(-1) + model(torch.flip(x, [-1])).softmax(-1)
    pred = p.argmax(1).numpy()
    assert m["n"] == len(test) and np.array(m["confusion"]).sum() == len(test) and m["tta"] == "flip"
    assert abs(m["accuracy"] - (pred == test.labels).mean()) < 1e-12
    assert f"accuracy {m['accuracy']:.4f}" in r.stdout
