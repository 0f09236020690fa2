"""Weight files are untrusted input: every reader refuses hostile files in one line naming the file (and the entry),
touches nothing on disk, never unpickles objects, and stays within bounded memory (checked under RLIMIT_AS)."""
import errno, json, os, signal, struct, subprocess, sys, textwrap, warnings, zipfile
from contextlib import contextmanager
from pathlib import Path
import h5py, numpy as np, pytest, torch
from original_files import FIX, SUFFIX, _block, _crc, _field, _varint, host_h5, keras_h5, recipe_weights, write_bundle
from lhc_fer.cli import main
from lhc_fer.config import LhcFerError
from lhc_fer.models import resnet34v2
from lhc_fer.checkpoint import load_model, load_weights, read_state, safetensors_header, save_model
from lhc_fer.original import convert_original, read_original, read_h5

TINY = FIX/"tiny"

# ---- the directory tree, and the two ways a reader must fail ----
def tree(root):
    "Every path under `root` with its size and mtime: what a failing command must leave as it was."
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(Path(root).rglob("*"))}

@contextmanager
def alarm(s=60):
    "A hang (a reader blocked on a pipe) becomes an error instead of a stuck test run."
    def boom(*_): raise TimeoutError(f"still running after {s} s")
    old = signal.signal(signal.SIGALRM, boom); signal.alarm(s)
    try: yield
    finally: signal.alarm(0); signal.signal(signal.SIGALRM, old)

def cli_fails(capsys, root, args, *words):
    "`lhc-fer convert ARGS` exits 2 with exactly one stderr line holding `words`, no traceback, no warning, `root` untouched."
    before = tree(root); capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught, alarm():
        warnings.simplefilter("always")
        rc = main(["convert", *map(str, args)])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, out, err)
    assert len(lines) == 1 and lines[0].startswith("lhc-fer: error: "), err
    assert "Traceback" not in err and "weights_only=False" not in err, err
    for w in words: assert str(w) in lines[0], (w, lines[0])
    assert not [str(w.message) for w in caught], [str(w.message) for w in caught]
    assert tree(root) == before
    return lines[0]

def api_fails(root, fn, *words):
    "`fn()` raises LhcFerError with a one-line message holding `words`, and leaves `root` untouched."
    before = tree(root)
    with alarm(), pytest.raises(LhcFerError) as e: fn()
    msg = str(e.value)
    assert "\n" not in msg and "weights_only=False" not in msg, msg
    for w in words: assert str(w) in msg, (w, msg)
    assert tree(root) == before
    return msg

# ---- hostile files ----
def keras_like(path, make, layer="conv0", weight="conv0/kernel:0"):
    "A Keras-layout h5 with one layer whose one weight `make(file, group, name)` writes."
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.encode()]
        g = f.create_group(layer); g.attrs["weight_names"] = [weight.encode()]
        make(f, g, weight)
    return path

def entry(dtype=1, shape=(4,), shard=0, offset=0, size=16, crc=None, raw=None):
    "A BundleEntryProto, written independently of lhc_fer's reader."
    if raw is not None: return raw
    e = _field(1, dtype) + _field(2, b"".join(_field(2, _field(1, d)) for d in shape))
    e += (_field(3, shard) if shard else b"") + _field(4, offset) + _field(5, size)
    return e + (_varint(6 << 3 | 5) + struct.pack("<I", crc) if crc is not None else b"")

def write_index(prefix, entries:dict, data:bytes=b"\0" * 32, header=None, damage=None):
    "PREFIX.index holding `entries` (key → entry bytes) and PREFIX.data-00000-of-00001 holding `data`; `damage(bytearray)` edits the index."
    prefix = Path(prefix); prefix.parent.mkdir(parents=True, exist_ok=True)
    (prefix.parent/f"{prefix.name}.data-00000-of-00001").write_bytes(data)
    header = _field(1, 1) + _field(3, _field(1, 1)) if header is None else header
    out = bytearray()
    def put(block):
        off = len(out); out.extend(block); out.extend(b"\0" + struct.pack("<I", _crc(block + b"\0")))
        return _varint(off) + _varint(len(block))
    rows = [(b"", header)] + [(k.encode(), v) for k, v in sorted(entries.items())]
    data_h = put(_block(rows)); meta_h = put(_block([]))
    index_h = put(_block([(rows[-1][0] + b"\xff", data_h)]))
    out += (meta_h + index_h).ljust(40, b"\0") + struct.pack("<Q", 0xdb4775248b80fb57)
    if damage: damage(out)
    (prefix.parent/f"{prefix.name}.index").write_bytes(bytes(out))
    return prefix

K = "conv0/kernel" + SUFFIX

def flip_in_first_block(b): b[5] ^= 0x01

def bad_index_handle(b):
    "The footer's index-block handle pointing far past the end of the file."
    b[-48:-8] = (_varint(0) + _varint(0) + _varint(10**9) + _varint(100)).ljust(40, b"\0")

H5_CASES = {   # name → (how the file is made, words of the one-line error)
    "bomb":      (lambda p: keras_like(p, lambda f, g, w: g.create_dataset(w, shape=(2**31,), maxshape=(None,), chunks=(2**20,), dtype="f4")),
                  ["weight 'conv0/kernel' declares (2147483648,) float32", "more than the whole file"]),
    "ext_link":  (lambda p: keras_like(p, lambda f, g, w: g.__setitem__(w, h5py.ExternalLink("/etc/hostname", "/x"))),
                  ["'conv0/conv0/kernel:0' is an external link to '/etc/hostname'"]),
    "ext_store": (lambda p: keras_like(p, lambda f, g, w: g.create_dataset(w, shape=(4,), dtype="f4", external=[("/dev/zero", 0, 16)])),
                  ["weight 'conv0/kernel' is stored in external files ('/dev/zero')"]),
    "virtual":   (lambda p: keras_like(p, lambda f, g, w: g.create_virtual_dataset(w, _layout())), ["weight 'conv0/kernel' is a virtual dataset"]),
    "shared":    (lambda p: _shared(p), ["declare", "more than the whole file", "shared or unwritten"]),
    "text":      (lambda p: keras_like(p, lambda f, g, w: g.__setitem__(w, np.array([b"abc"]))), ["weight 'conv0/kernel' has dtype |S3, not numbers"]),
    "huge_attr": (lambda p: _huge_attr(p), ["damaged HDF5 file"]),  # HDF5 checks the size against the stored message
    "no_group":  (lambda p: keras_like(p, lambda f, g, w: f.attrs.__setitem__("layer_names", [b"missing"])), ["layer 'missing' is not a group"]),
    "truncated": (lambda p: _truncated(p), ["not a readable HDF5 file"]),
    "wide":      (lambda p: keras_like(p, lambda f, g, w: (g.__setitem__(w, np.zeros((7, 7, 3, 256), np.float32)),
                                                         f.create_group("stage1_unit1_conv1").attrs.__setitem__("weight_names", [b"stage1_unit1_conv1/kernel:0"]),
                                                         f["stage1_unit1_conv1"].__setitem__("stage1_unit1_conv1/kernel:0", np.zeros(1, np.float32)),
                                                         f.attrs.__setitem__("layer_names", [b"conv0", b"stage1_unit1_conv1"]))),
                  ["weight 'bn_data/beta' (for stem.bn_data.bias) is missing"]),
}

def _layout():
    lay = h5py.VirtualLayout(shape=(4,), dtype="f4"); lay[:] = h5py.VirtualSource("/etc/other.h5", "x", shape=(4,))
    return lay

def _shared(p):
    "One 80 KB weight hard-linked under 40 names: 3 MB of declared weights in an 85 KB file."
    def make(f, g, w):
        g[w] = np.zeros(20_000, np.float32)
        for i in range(40): f.create_group(f"l{i}").attrs["weight_names"] = [b"k:0"]; f[f"l{i}/k:0"] = g[w]
        f.attrs["layer_names"] = [b"conv0"] + [f"l{i}".encode() for i in range(40)]
    return keras_like(p, make)

def _huge_attr(p):
    "A layer_names attribute whose dataspace declares 2**40 names (patched in the file's bytes after writing)."
    keras_like(p, lambda f, g, w: g.__setitem__(w, np.zeros(3, np.float32)))
    with h5py.File(p, "a") as f: del f.attrs["layer_names"]; f.attrs.create("layer_names", np.array([b"conv0"] * 7, "S5"))
    b = bytearray(p.read_bytes()); i = b.find(struct.pack("<Q", 7))
    b[i:i + 16] = struct.pack("<QQ", 2**40, 2**40) if b[i + 8:i + 16] == struct.pack("<Q", 7) else struct.pack("<Q", 2**40) + b[i + 8:i + 16]
    p.write_bytes(bytes(b))                                              # the dataspace's size (and its maximum)
    return p

def _truncated(p):
    host_h5(p, recipe_weights("resnet34_no_top.h5.tsv", scale=16)); p.write_bytes(p.read_bytes()[:20_000])
    return p

TF_CASES = {   # name → (prefix writer, words)
    "magic":        (lambda pre: write_index(pre, {K: entry()}, damage=lambda b: b.__setitem__(-1, 0)), ["x.index", "not a TensorFlow checkpoint index"]),
    "block_crc":    (lambda pre: write_index(pre, {K: entry()}, damage=flip_in_first_block), ["x.index", "fails its checksum"]),
    "block_handle": (lambda pre: write_index(pre, {K: entry()}, damage=bad_index_handle), ["x.index: index block", "runs past the end of the file"]),
    "past_shard":   (lambda pre: write_index(pre, {K: entry(offset=10**9)}), ["x.data-00000-of-00001", f"tensor {K!r} needs bytes 1000000000-1000000016 but the file has 32"]),
    "overlap":      (lambda pre: write_index(pre, {K: entry(), "b" + SUFFIX: entry(offset=8)}), ["share bytes from 8", repr(K)]),
    "varint_end":   (lambda pre: write_index(pre, {K: entry(raw=b"\x08\x01\x12\x05\x12")}), [f"x.index: tensor {K!r}", "runs past the end"]),
    "long_varint":  (lambda pre: write_index(pre, {K: entry(raw=b"\x20" + b"\xff" * 20 + b"\x01")}), [f"tensor {K!r}", "longer than 10 bytes"]),
    "wire_type":    (lambda pre: write_index(pre, {K: entry(raw=b"\x08\x01\x10\x04")}), [f"tensor {K!r}", "field 2 has the wrong wire type"]),
    "group_wire":   (lambda pre: write_index(pre, {K: entry(raw=b"\x0b\x0c")}), [f"tensor {K!r}", "unsupported protobuf wire type 3"]),
    "shard_count":  (lambda pre: write_index(pre, {K: entry(shard=2)}), [f"tensor {K!r} lies in data shard 3, but the checkpoint has 1"]),
    "neg_dim":      (lambda pre: write_index(pre, {K: entry(shape=(2**64 - 1,))}), [f"tensor {K!r}", "negative or unknown"]),
    "size_lie":     (lambda pre: write_index(pre, {K: entry(shape=(10**9,), size=16)}), [f"tensor {K!r} of shape (1000000000,) holds 16 bytes"]),
    "strings":      (lambda pre: write_index(pre, {K: entry(dtype=7, shape=(10**12,), size=16)}), [f"tensor {K!r}", "1000000000000 strings cannot fit in its 16 bytes"]),
    "tensor_crc":   (lambda pre: write_index(pre, {K: entry(crc=12345)}), ["x.data-00000-of-00001", f"tensor {K!r} fails its checksum"]),
    "bad_header":   (lambda pre: write_index(pre, {K: entry()}, header=_field(1, 10**6)), ["x.index", "declares 1000000 data shards"]),
    "utf8_key":     (lambda pre: _bad_key(pre), ["x.index", "not UTF-8"]),
    "graph":        (lambda pre: _bad_graph(pre), ["x.index: object graph", "a reference to node 7"]),
}

def _bad_key(pre):
    "An index whose one key is not UTF-8 (our own table writer, key bytes given directly)."
    out = bytearray()
    def put(block):
        off = len(out); out.extend(block); out.extend(b"\0" + struct.pack("<I", _crc(block + b"\0"))); return _varint(off) + _varint(len(block))
    data_h = put(_block([(b"", _field(1, 1)), (b"\xff\xfe", entry())])); meta_h = put(_block([])); index_h = put(_block([(b"\xff\xff", data_h)]))
    out += (meta_h + index_h).ljust(40, b"\0") + struct.pack("<Q", 0xdb4775248b80fb57)
    pre.parent.mkdir(parents=True, exist_ok=True)
    pre.with_name("x.index").write_bytes(bytes(out)); pre.with_name("x.data-00000-of-00001").write_bytes(b"\0" * 32)
    return pre

def _bad_graph(pre):
    "A valid bundle whose object graph names a child node that does not exist."
    graph = _field(1, _field(1, _field(1, 7) + _field(2, b"conv0")))
    s = graph
    raw = _varint(len(s)) + struct.pack("<I", 0) + s                    # a 1-element string tensor (no checksum entry)
    return write_index(pre, {"_CHECKPOINTABLE_OBJECT_GRAPH": entry(dtype=7, shape=(), size=len(raw)), K: entry(offset=len(raw))},
                       data=raw + b"\0" * 16)

@pytest.mark.parametrize("name", list(H5_CASES))
def test_hostile_h5_convert(name, tmp_path, capsys):
    src = H5_CASES[name][0](tmp_path/f"{name}.h5")
    assert src.stat().st_size < 1 << 20
    cli_fails(capsys, tmp_path, [src, tmp_path/"out"/"m.safetensors"], f"{name}.h5", *H5_CASES[name][1])

@pytest.mark.parametrize("name", list(TF_CASES))
def test_hostile_checkpoint_convert(name, tmp_path, capsys):
    TF_CASES[name][0](tmp_path/"ck"/"x")
    cli_fails(capsys, tmp_path, [tmp_path/"ck"/"x", tmp_path/"out.safetensors"], f"{tmp_path}/ck/x.", *TF_CASES[name][1])

def test_checkpoint_file_that_is_a_pipe(tmp_path, capsys):
    "A `checkpoint` that is a FIFO would block a reader forever: it is refused unopened."
    (tmp_path/"ck").mkdir(); os.mkfifo(tmp_path/"ck"/"checkpoint")
    cli_fails(capsys, tmp_path, [tmp_path/"ck", tmp_path/"out.safetensors"], "ck/checkpoint: not a regular file")

def test_checkpoint_naming_a_missing_index(tmp_path, capsys):
    (tmp_path/"ck").mkdir(); (tmp_path/"ck"/"checkpoint").write_text('model_checkpoint_path: "/nowhere/\\0x"\n')
    cli_fails(capsys, tmp_path, [tmp_path/"ck", tmp_path/"out.safetensors"], "ck/checkpoint: names", "does not exist")

def heap_loop(p):
    "A Keras h5 whose global heap says the name 'bn_data' is 2567 bytes long: libhdf5 then loops forever reading it."
    keras_h5(p, {"bn_data": {"bn_data/beta:0": np.ones(3, np.float32)}, "conv0": {"conv0/kernel:0": np.zeros((2, 2, 3, 4), np.float32)}})
    b = bytearray(p.read_bytes()); i = b.index(b"GCOL") + 16          # the collection's first object
    while True:                                                          # objects: index, refcount, reserved, size (8), data padded to 8
        size = struct.unpack_from("<Q", b, i + 8)[0]
        if b[i + 16:i + 16 + size] == b"bn_data": struct.pack_into("<Q", b, i + 8, 0x0a07); break
        i += 16 + -(-size // 8) * 8
    p.write_bytes(bytes(b)); return p

def test_hdf5_library_hang_is_one_line(tmp_path, capsys, monkeypatch):
    "A file that makes libhdf5 loop forever: the child reading it is stopped at the time limit."
    import lhc_fer.original as W
    monkeypatch.setattr(W, "H5_LIMIT_S", 3)
    src = heap_loop(tmp_path/"loop.h5")
    cli_fails(capsys, tmp_path, [src, tmp_path/"m.safetensors"], "loop.h5: the HDF5 library did not finish reading it in 3 s")

def test_hdf5_library_crash_is_one_line(tmp_path, capsys, monkeypatch, host_file):
    "A crash inside libhdf5 (here a child that dies of SIGSEGV) kills only the child reading the file."
    import lhc_fer.original as W
    monkeypatch.setattr(W, "_h5_plan", lambda *a: os.kill(os.getpid(), signal.SIGSEGV))
    cli_fails(capsys, host_file.parent, [host_file, tmp_path/"m.safetensors"], "host.h5: the HDF5 library crashed (signal 11) reading it")

# ---- outputs: never onto or into the input; a pair or nothing ----
@pytest.fixture(scope="module")
def host_file(tmp_path_factory):
    return host_h5(tmp_path_factory.mktemp("src")/"host.h5", recipe_weights("resnet34_no_top.h5.tsv", scale=8))

def test_output_inside_the_input_folder(tmp_path, capsys):
    ck = tmp_path/"LHC_Net"; write_bundle(ck/"LHC_Net", {K: np.zeros(4, np.float32)})
    cli_fails(capsys, tmp_path, [ck, ck/"m.safetensors"], "m.safetensors: lies inside the input folder", "LHC_Net")
    cli_fails(capsys, tmp_path, [ck, ck/"m.safetensors", "--force"], "lies inside the input folder")

def test_output_that_is_the_input_by_a_link(tmp_path, capsys, host_file):
    os.symlink(host_file, tmp_path/"m.safetensors")
    cli_fails(capsys, tmp_path, [host_file, tmp_path/"m.safetensors", "--force"], "m.safetensors: is the input", "host.h5")

def test_existing_sidecar_needs_force(tmp_path, capsys, host_file):
    (tmp_path/"m.json").write_text("{}")
    cli_fails(capsys, tmp_path, [host_file, tmp_path/"m.safetensors"], "m.json: exists; pass --force")
    assert main(["convert", str(host_file), str(tmp_path/"m.safetensors"), "--force"]) == 0
    assert json.loads((tmp_path/"m.json").read_text())["arch"] == "resnet34v2"

def deny_json(monkeypatch):
    "Writing any .json fails as in a folder turned read-only."
    real = Path.write_text
    def write_text(self, *a, **k):
        if ".json" in self.name: raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "write_text", write_text)

def test_convert_without_its_sidecar_writes_nothing(tmp_path, capsys, monkeypatch, host_file):
    deny_json(monkeypatch)
    cli_fails(capsys, tmp_path, [host_file, tmp_path/"m.safetensors"], "permission denied writing", "m.json")
    assert not list(tmp_path.glob("*.safetensors"))

def test_save_model_keeps_the_old_pair(tmp_path, monkeypatch):
    old = resnet34v2(img_size=32, width=0.125); save_model(old, tmp_path/"m.safetensors")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    deny_json(monkeypatch)
    api_fails(tmp_path, lambda: save_model(resnet34v2(img_size=32, width=0.125), tmp_path/"m.safetensors"), "permission denied writing", "m.json")
    api_fails(tmp_path, lambda: save_model(old, tmp_path/"new.safetensors"), "new.json")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    x = torch.rand(1, 1, 32, 32) * 255
    assert torch.equal(load_model(tmp_path/"m.safetensors").eval()(x), old.eval()(x))

# ---- our own formats, through the API ----
def st_file(path, hdr, data=b"", n=None):
    raw = json.dumps(hdr).encode(); Path(path).write_bytes(struct.pack("<Q", len(raw) if n is None else n) + raw + data)
    return Path(path)

def make_model_files(d):
    "A small saved host (330 KB): model.safetensors and model.json."
    save_model(resnet34v2(img_size=32, width=0.0625), d/"model.safetensors")
    return d/"model.safetensors", json.loads((d/"model.json").read_text())

class Thing:
    def __reduce__(self): return (os.system, ("touch pwned",))         # what an unsafe unpickler would run

def _pickled(p): torch.save({"w": torch.zeros(2), "x": Thing()}, p); return p

def _zip_bomb(p):
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z: z.writestr("archive/data.pkl", b"\0" * (50 << 20))
    return p

def _legacy_bomb(p):
    torch.save({"w": torch.arange(5.)}, p, _use_new_zipfile_serialization=False)
    b = p.read_bytes(); i = b.index(b"cpu") + 5
    assert b[i:i + 2] == b"K\x05"
    p.write_bytes(b[:i] + b"J" + struct.pack("<i", 2**30) + b[i + 2:])  # a 4 GiB storage declared in a 372-byte file
    return p

def _sidecar(d, **changes):
    w, meta = make_model_files(d)
    meta = {**meta, **changes}; (d/"model.json").write_text(json.dumps(meta)); return w

API_CASES = {   # name → (file maker (folder → path), reader, words)
    "st_lying":    (lambda d: st_file(d/"w.safetensors", dict(w=dict(dtype="F32", shape=[65536, 65536], data_offsets=[0, 4 * 65536**2])), b"\0" * 64),
                    read_state, ["w.safetensors: tensor 'w': data_offsets [0, 17179869184] do not lie within the file's 64 data bytes"]),
    "st_len":      (lambda d: st_file(d/"w.safetensors", {}, n=2**63), read_state, ["header declares 9223372036854775808 bytes"]),
    "st_nested":   (lambda d: st_file(d/"w.safetensors", {}, b"[" * 200_000, n=200_002), read_state, ["w.safetensors: safetensors header is not valid JSON"]),
    "st_folder":   (lambda d: (d/"w.safetensors").mkdir() or d/"w.safetensors", read_state, ["w.safetensors: not a regular file"]),
    "st_shapes":   (lambda d: st_file(d/"w.safetensors", {"fc.weight": dict(dtype="F32", shape=[10**6, 1024], data_offsets=[0, 4096 * 10**6])}),
                    lambda p: load_weights(resnet34v2(img_size=32, width=0.125), p), ["'fc.weight': data_offsets"]),
    "pickle":      (lambda d: _pickled(d/"obj.pt"), read_state, ["obj.pt: not a plain tensor checkpoint (it holds Python objects that lhc_fer will not unpickle)"]),
    "zip_bomb":    (lambda d: _zip_bomb(d/"bomb.pt"), read_state, ["bomb.pt: its zip entries declare 52428800 bytes, more than the file's"]),
    "legacy_bomb": (lambda d: _legacy_bomb(d/"old.pt"), read_state, ["old.pt: not a zip-format PyTorch file"]),
    "side_classes": (lambda d: _sidecar(d, args=dict(n_classes=10**9, img_size=32, width=0.0625)), load_model,
                    ["model.safetensors: tensor 'fc.weight' has shape (7, 64) in the weights but (1000000000, 64)"]),
    "side_file":   (lambda d: _sidecar(d, args=dict(n_classes=7, img_size=32, width=0.0625, pretrained="/etc/passwd")), load_model, ["arguments do not fit"]),
    "side_arch":   (lambda d: _sidecar(d, arch="os.system"), load_model, ["model.json: unknown architecture 'os.system'"]),
    "side_json":   (lambda d: (make_model_files(d), (d/"model.json").write_text("{" * 100_000))[0][0], load_model, ["model.json", "not valid JSON"]),
    "h5_api":      (lambda d: H5_CASES["bomb"][0](d/"b.h5"), read_h5, ["b.h5: weight 'conv0/kernel' declares"]),
}

@pytest.mark.parametrize("name", list(API_CASES))
def test_hostile_files_through_the_api(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = API_CASES[name][0](tmp_path)
    api_fails(tmp_path, lambda: API_CASES[name][1](path), f"{tmp_path}/", *API_CASES[name][2])
    assert not (tmp_path/"pwned").exists()

# ---- bounded memory, in a subprocess under an address-space limit ----
MEMORY_SCRIPT = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    from lhc_fer.config import LhcFerError
    from lhc_fer.models import resnet34v2
    from lhc_fer.checkpoint import load_model, load_weights, read_state
    from lhc_fer.original import convert_original, read_original, read_h5
    import h5py, safetensors.torch
    def vmpeak(): return int([l for l in open("/proc/self/status") if l.startswith("VmPeak")][0].split()[1]) << 10
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
    normal, cases = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    convert_original(normal["h5"], normal["out"]); load_model(normal["out"])     # a normal run first: its peak is the yardstick
    cap = vmpeak() + (1 << 30); resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    readers = dict(convert=lambda p: convert_original(p, normal["dir"] + "/never.safetensors"), state=read_state, model=load_model, h5=read_h5,
                   weights=lambda p: load_weights(resnet34v2(img_size=32, width=0.125), p))
    out, base = {}, rss()
    for name, (reader, path) in cases.items():
        t = time.time()
        try: readers[reader](path); got = "no error"
        except LhcFerError: got = "LhcFerError"
        except BaseException as e: got = f"{type(e).__name__}: {e}"
        out[name] = dict(got=got, rss_growth_mb=(rss() - base) / 2**20, s=round(time.time() - t, 2))
    print(json.dumps(dict(cap_gb=cap / 2**30, cases=out)))
''')

def test_peak_memory_bounded(tmp_path):
    "Every hostile file under 1 MB fails with LhcFerError within 1 GiB of address space over a normal run's peak."
    cases = {}
    for name, (make, _) in H5_CASES.items(): cases[f"h5_{name}"] = ("convert", str(make(tmp_path/f"{name}.h5")))
    for name, (make, _) in TF_CASES.items(): make(tmp_path/name/"x"); cases[f"tf_{name}"] = ("convert", str(tmp_path/name/"x"))
    for name, (make, reader, _) in API_CASES.items():
        if name in ("st_folder",): continue
        d = tmp_path/f"api_{name}"; d.mkdir(); p = make(d)
        cases[f"api_{name}"] = ({read_state: "state", load_model: "model", read_h5: "h5"}.get(reader, "weights"), str(p))
    for _, p in cases.values():
        q = Path(p); size = q.stat().st_size if q.is_file() else sum(f.stat().st_size for f in q.parent.iterdir() if f.is_file())
        assert size < 1 << 20, (p, size)
    normal = dict(h5=str(host_h5(tmp_path/"normal.h5", recipe_weights("resnet34_no_top.h5.tsv", scale=4))),
                  out=str(tmp_path/"normal"/"m.safetensors"), dir=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, json.dumps(normal), json.dumps(cases)], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in res["cases"].items() if v["got"] != "LhcFerError"}
    assert not bad, bad
    worst = max(res["cases"].items(), key=lambda kv: kv[1]["rss_growth_mb"])
    print(f"{len(cases)} hostile files under an address-space cap of {res['cap_gb']:.1f} GiB (a normal run's peak + 1 GiB); "
          f"largest RSS growth {worst[1]['rss_growth_mb']:.0f} MB ({worst[0]})")
