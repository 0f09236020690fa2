"""`lhc-fer convert` and `--host-weights` as users run them (in-process `lhc_fer.cli.main`, `conftest.lhc`), on
full-size files in the original's layouts."""
import json, os, shutil, time
import numpy as np
import pytest
import torch
from conftest import lhc, one_line_error
from original_files import FIX, authors_folder, host_h5, recipe_weights, write_bundle, SUFFIX

REF = np.load(FIX/"reference.npz")

@pytest.fixture(scope="module")
def netc_folder(tmp_path_factory):
    "LHC-NetC as the authors publish it, spread over two data shards, with optimizer state."
    return authors_folder(tmp_path_factory.mktemp("dl")/"LHC_NetC", recipe_weights("lhc_net_controller.keys.tsv"),
                          name="LHC_Net_Controller", shards=2)

@pytest.fixture(scope="module")
def net_folder(tmp_path_factory):
    return authors_folder(tmp_path_factory.mktemp("dl")/"LHC_Net", recipe_weights("lhc_net.keys.tsv"))

def probs(path, x):
    from lhc_fer.checkpoint import load_model
    m = load_model(path).eval()
    with torch.no_grad(): return m, m(x).softmax(-1).numpy()

def test_convert_lhc_netc_two_shards(netc_folder, tmp_path):
    out = tmp_path/"lhc_netc.safetensors"
    t = time.time(); r = lhc("convert", netc_folder, out); dt = time.time() - t
    assert r.returncode == 0, r.stderr
    assert "LHC-NetC (with controller), 32.40 M parameters" in r.stdout
    x224 = torch.from_numpy(REF["x224"]).permute(0, 3, 1, 2)
    m, p = probs(out, x224)
    assert np.abs(p - REF["lhc_netc_probs"]).max() < 1e-4
    side = json.loads(out.with_suffix(".json").read_text())
    assert (side["classes"][0], side["original"]["classes"][0]) == ("angry", "Anger")   # the kit's names; the original's kept
    from lhc_fer.models import lhc_modules
    w = [l.controller.item() for l in lhc_modules(m).values()]
    assert np.array_equal(np.array(w, np.float32), REF["lhc_netc_controller_w"])
    print(f"lhc-fer convert of LHC-NetC (2 shards): {dt:.1f} s wall (in-process: no interpreter start)")

def test_convert_lhc_net_from_index_then_predict(net_folder, tmp_path):
    out = tmp_path/"lhc_net.safetensors"
    r = lhc("convert", net_folder/"LHC_Net.index", out)
    assert r.returncode == 0, r.stderr
    x48 = torch.from_numpy(REF["x48"]).float()[:, None]                  # 48 px faces through our input adapter
    _, p = probs(out, x48)
    assert np.abs(p - REF["lhc_net_probs"]).max() < 1e-3
    import cv2, skimage.data
    photo = tmp_path/"astronaut.png"; cv2.imwrite(str(photo), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    r = lhc("predict", out, photo)
    assert r.returncode == 0, r.stderr
    import re
    classes = tuple(json.loads(out.with_suffix(".json").read_text())["classes"])
    bars = dict((c, float(p)) for c, p in re.findall(r"^  (\w+) +(\d\.\d{3})  #*$", r.stdout, re.M))
    assert tuple(bars) == classes and abs(sum(bars.values()) - 1) < 0.01, r.stdout       # the kit's class names, one bar each
    top = re.search(r": face 1 of 1 at x=\d+ y=\d+ w=\d+ h=\d+: (\w+) \((\d\.\d\d)\)$", r.stdout, re.M)
    assert top and top.group(1) == max(bars, key=bars.get) and abs(float(top.group(2)) - max(bars.values())) < 0.006, r.stdout
    one_line_error(lhc("convert", net_folder, out), "exists", "--force")    # no silent overwrite
    assert lhc("convert", net_folder, out, "--force").returncode == 0

def test_convert_imagenet_host_h5(tmp_path):
    from lhc_fer.checkpoint import load_model
    h5 = host_h5(tmp_path/"resnet34_imagenet_1000_no_top.h5", recipe_weights("resnet34_no_top.h5.tsv"))
    out = tmp_path/"host.safetensors"
    r = lhc("convert", h5, out)
    assert r.returncode == 0, r.stderr
    assert "note: the dense head (fc1, fc2, fc) is freshly initialised" in r.stdout
    m = load_model(out).eval()
    with torch.no_grad(): f = m.forward_features(torch.from_numpy(REF["x224"]).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.abs(f - REF["host_features"]).max() <= 1e-4 * np.abs(REF["host_features"]).max()

def damaged(src, dst, how):
    "A copy of the folder `src` damaged `how`; untouched data shards are hard links, so no copy costs 130 MB of disk."
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if ".data-" in f.name: os.link(f, dst/f.name)
        else: shutil.copy(f, dst/f.name)
    data = sorted(dst.glob("*.data-*"))[0]
    if how == "truncated": head = data.read_bytes()[:1000]; data.unlink(); data.write_bytes(head)  # unlink first: src keeps its bytes
    elif how == "missing": data.unlink()
    elif how == "magic":
        idx = next(dst.glob("*.index")); b = bytearray(idx.read_bytes()); b[-1] ^= 0xFF; idx.write_bytes(bytes(b))
    return dst

@pytest.mark.parametrize("how, words", [("truncated", ["LHC_Net.data-00000-of-00001", "cut short"]),
                                        ("missing", ["LHC_Net.data-00000-of-00001", "missing data shard 1 of 1"]),
                                        ("magic", ["LHC_Net.index", "not a TensorFlow checkpoint index"])])
def test_bad_checkpoints_one_line_nothing_written(net_folder, tmp_path, how, words):
    src = damaged(net_folder, tmp_path/how, how)
    out = tmp_path/"out"/"m.safetensors"
    one_line_error(lhc("convert", src, out), *words)
    assert not out.parent.exists() or not any(out.parent.iterdir())

def test_other_networks_refused(tmp_path):
    from original_files import keras_h5
    vgg = keras_h5(tmp_path/"vgg16.h5", {"block1_conv1": {"block1_conv1/kernel:0": np.zeros((3, 3, 3, 64), np.float32)}})
    one_line_error(lhc("convert", vgg, tmp_path/"a.safetensors"), "vgg16.h5", "not an original LHC-Net")
    tiny = FIX/"tiny"/"savedmodel"/"tiny"
    one_line_error(lhc("convert", tiny, tmp_path/"b.safetensors"), "savedmodel/tiny", "not an original LHC-Net")
    assert not list(tmp_path.glob("*.safetensors"))
    other = write_bundle(tmp_path/"ck"/"x", {"dense/kernel" + SUFFIX: np.zeros((2, 3), np.float32)})
    one_line_error(lhc("convert", other, tmp_path/"c.safetensors"), "not an original LHC-Net", "dense/kernel")

def test_train_from_imagenet_host_records_file(tmp_path):
    "The fast recipe's host stage starts from a (quarter-width) ImageNet h5; the run's config records it."
    import hashlib
    h5 = host_h5(tmp_path/"q.h5", recipe_weights("resnet34_no_top.h5.tsv", scale=4))
    faces = tmp_path/"faces.csv"
    assert lhc("data", "synth", faces, "--n", 140).returncode == 0
    r = lhc("train", faces, "--protocol", "fast", "--width", 0.25, "--img-size", 32, "--heads", 4, 4, 2, 2, 1,
            "--emb", 8, 8, 4, 4, 4, "--epochs", 1, "--bs", 32, "--host-weights", h5, "--out", tmp_path/"run")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path/"run"/"config.json").read_text())
    assert cfg["host_weights"] == str(h5.resolve())
    assert cfg["host_sha256"] == hashlib.sha256(h5.read_bytes()).hexdigest()
    wrong = lhc("train", faces, "--protocol", "fast", "--width", 0.5, "--img-size", 32, "--heads", 4, 4, 2, 2, 1, "--epochs", 1,
                "--host-weights", h5, "--out", tmp_path/"run2")
    one_line_error(wrong, "q.h5", "width 0.25", "the model has width 0.5")
