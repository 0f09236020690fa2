"""Fuzzing the weight readers: truncations and byte flips of valid files (safetensors, PyTorch zip, Keras h5, TF
checkpoint index and data) and random bytes for the protobuf decoders. A reader may read a damaged file (a flip in
the data) or refuse it with a one-line LhcFerError naming the file; nothing else may come out."""
import json, shutil, warnings
from collections import Counter
from pathlib import Path
import numpy as np, pytest, torch
from hypothesis import HealthCheck, given, settings, strategies as st
from original_files import FIX, keras_h5
from lhc_fer.config import LhcFerError
import lhc_fer.original as W
from lhc_fer.models import resnet34v2
from lhc_fer.checkpoint import load_model, load_weights, read_state, save_model
from lhc_fer.original import bundle_entry, from_original, proto_fields, read_bundle, read_original, read_h5

TINY = FIX/"tiny"
FUZZ = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SEEN = Counter()

def mutated(good:bytes, head:int|None=None):
    "A truncation, or 1-8 flipped bytes (within the first `head` bytes, where the structure is, half of the time)."
    n, h = len(good), min(head or len(good), len(good))
    def flip(fl):
        b = bytearray(good)
        for i, x in fl: b[i] ^= x
        return bytes(b)
    where = st.one_of(st.integers(0, h - 1), st.integers(0, n - 1))
    return st.one_of(st.integers(0, n - 1).map(lambda k: good[:k]),
                     st.lists(st.tuples(where, st.integers(1, 255)), min_size=1, max_size=8).map(flip))

def refused_or_read(name, fn, names):
    "Run one reader on one damaged file: it reads, or refuses in one line naming `names` (no warning either way); count which."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try: fn(); got = "read"
        except LhcFerError as e:
            msg = str(e); got = "refused"
            assert "\n" not in msg and str(names) in msg, msg
    assert not caught, [str(w.message) for w in caught]                 # a warning would be a second stderr line
    SEEN[name, got] += 1

@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    for r in sorted({r for r, _ in SEEN}): print(f"fuzz {r}: {SEEN[r, 'refused'] + SEEN[r, 'read']} examples, {SEEN[r, 'refused']} refused, {SEEN[r, 'read']} read")

def st_bytes(tensors):
    from safetensors.torch import save
    return save(tensors, metadata={"lhc_fer": json.dumps({"arch": "resnet34v2"})})

GOOD_ST = st_bytes({"weight": torch.arange(6.).reshape(3, 2), "bias": torch.ones(3)})

@settings(max_examples=60, **FUZZ)
@given(data=mutated(GOOD_ST, head=8 + int.from_bytes(GOOD_ST[:8], "little")))
def test_fuzz_safetensors_read_state(tmp_path, data):
    p = tmp_path/"w.safetensors"; p.write_bytes(data)
    refused_or_read("safetensors read_state", lambda: read_state(p), p)

@settings(max_examples=40, **FUZZ)
@given(data=mutated(GOOD_ST, head=8 + int.from_bytes(GOOD_ST[:8], "little")))
def test_fuzz_safetensors_load_weights(tmp_path, data):
    p = tmp_path/"w.safetensors"; p.write_bytes(data)
    refused_or_read("safetensors load_weights", lambda: load_weights(torch.nn.Linear(2, 3), p), p)

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    "A tiny saved host (330 KB): its weights and its sidecar, as bytes."
    d = tmp_path_factory.mktemp("saved"); save_model(resnet34v2(img_size=32, width=0.0625), d/"m.safetensors")
    return (d/"m.safetensors").read_bytes(), (d/"m.json").read_bytes()

@settings(max_examples=30, **FUZZ)
@given(which=st.sampled_from(["weights", "sidecar"]), seed=st.data())
def test_fuzz_load_model(tmp_path, saved, which, seed):
    w, side = saved
    if which == "weights": w = seed.draw(mutated(w, head=8 + int.from_bytes(w[:8], "little")))
    else: side = seed.draw(mutated(side))
    (tmp_path/"m.safetensors").write_bytes(w); (tmp_path/"m.json").write_bytes(side)
    refused_or_read(f"load_model ({which})", lambda: load_model(tmp_path/"m.safetensors"), tmp_path/"m.")

@pytest.fixture(scope="module")
def good_pt(tmp_path_factory):
    p = tmp_path_factory.mktemp("pt")/"w.pt"; torch.save({"weight": torch.arange(6.).reshape(3, 2), "bias": torch.ones(3)}, p)
    return p.read_bytes()

@settings(max_examples=40, **FUZZ)
@given(seed=st.data())
def test_fuzz_torch_zip(tmp_path, good_pt, seed):
    p = tmp_path/"w.pt"; p.write_bytes(seed.draw(mutated(good_pt)))
    refused_or_read("pt read_state", lambda: read_state(p), p)

@pytest.fixture(scope="module")
def good_h5(tmp_path_factory):
    p = keras_h5(tmp_path_factory.mktemp("h5")/"k.h5", {"bn_data": {"bn_data/beta:0": np.ones(3, np.float32)}, "relu0": {},
                                                       "conv0": {"conv0/kernel:0": np.arange(48, dtype=np.float32).reshape(2, 2, 3, 4)}})
    return p.read_bytes()

@settings(max_examples=40, **FUZZ)
@given(seed=st.data())
def test_fuzz_h5(tmp_path, good_h5, seed, monkeypatch):
    monkeypatch.setattr(W, "H5_LIMIT_S", 3)                             # some damaged files make libhdf5 loop forever
    p = tmp_path/"k.h5"; p.write_bytes(seed.draw(mutated(good_h5, head=4096)))
    refused_or_read("h5 read_h5", lambda: read_h5(p), p)

def mutated_copy(tmp_path, seed, src, name):
    "A fresh copy of the checkpoint folder `src` in which the file `name` is replaced by a mutation `seed` draws; the copy's folder."
    d = tmp_path/"ck"; shutil.rmtree(d, ignore_errors=True); shutil.copytree(src, d)
    (d/name).write_bytes(seed.draw(mutated((src/name).read_bytes())))
    return d

@settings(max_examples=50, **FUZZ)
@given(seed=st.data())
def test_fuzz_tf_index(tmp_path, seed):
    d = mutated_copy(tmp_path, seed, TINY/"plain", "tiny.index")
    refused_or_read("tf index read_bundle", lambda: read_bundle(d/"tiny"), d)

@settings(max_examples=25, **FUZZ)
@given(seed=st.data())
def test_fuzz_tf_data(tmp_path, seed):
    d = mutated_copy(tmp_path, seed, TINY/"plain", "tiny.data-00000-of-00001")
    refused_or_read("tf data read_bundle", lambda: read_bundle(d/"tiny"), d)

@settings(max_examples=30, **FUZZ)
@given(seed=st.data())
def test_fuzz_savedmodel_from_original(tmp_path, seed):
    "The SavedModel's index, object graph included, through the whole conversion."
    d = mutated_copy(tmp_path, seed, TINY/"savedmodel", "tiny/variables/variables.index")
    refused_or_read("savedmodel read_original", lambda: read_original(d/"tiny"), d)
    refused_or_read("savedmodel from_original", lambda: from_original(d/"tiny"), d)

@settings(max_examples=60, **FUZZ)
@given(buf=st.binary(max_size=64))
def test_fuzz_protobuf_decoders(buf):
    refused_or_read("proto_fields", lambda: proto_fields(buf, "x.index: tensor 'k'"), "x.index: tensor 'k'")
    refused_or_read("bundle_entry", lambda: bundle_entry(buf, "x.index: tensor 'k'"), "x.index: tensor 'k'")
