"""Files in the original's formats, for tests and benchmarks: a TensorFlow tensor-bundle writer (independent of the
reader in lhc_fer.original), a Keras h5 writer, and the reference weight recipe."""
import struct, zlib
from pathlib import Path
import numpy as np

FIX = Path(__file__).parent/"fixtures"/"original_tf"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9}

def _crc(b):
    import crc32c
    c = crc32c.crc32c(b)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xa282ead8) & 0xFFFFFFFF   # TensorFlow's masked crc32c

def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F; v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v: return bytes(out)

def _field(num, v):
    if isinstance(v, bytes): return _varint(num << 3 | 2) + _varint(len(v)) + v
    return _varint(num << 3) + _varint(v)

def _block(entries):
    "A table block without prefix compression: one restart point."
    b = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return b + struct.pack("<II", 0, 1)

def write_bundle(prefix, tensors:dict, shards:int=1):
    "Write `tensors` (raw key → array) as PREFIX.index + PREFIX.data-*-of-*, spreading them over `shards` files."
    prefix = Path(prefix); prefix.parent.mkdir(parents=True, exist_ok=True)
    data, entries = [bytearray() for _ in range(shards)], []
    for i, k in enumerate(sorted(tensors)):
        a = np.asarray(tensors[k]); s = i % shards; raw = a.astype(a.dtype.newbyteorder("<")).tobytes(order="C")
        shape = b"".join(_field(2, _field(1, d)) for d in a.shape)
        e = (_field(1, DTYPES[a.dtype]) + _field(2, shape) + (_field(3, s) if s else b"") + _field(4, len(data[s]))
             + _field(5, len(raw)) + _varint(6 << 3 | 5) + struct.pack("<I", _crc(raw)))
        data[s] += raw; entries.append((k.encode(), e))
    for s in range(shards): (prefix.parent/f"{prefix.name}.data-{s:05d}-of-{shards:05d}").write_bytes(bytes(data[s]))
    header = _field(1, shards) + _field(3, _field(1, 1))
    out = bytearray()
    def put(block):
        off = len(out); out.extend(block); out.extend(b"\0" + struct.pack("<I", _crc(block + b"\0")))
        return _varint(off) + _varint(len(block))
    data_h = put(_block([(b"", header)] + entries))
    meta_h = put(_block([]))
    index_h = put(_block([(entries[-1][0] + b"\xff", data_h)]))
    footer = (meta_h + index_h).ljust(40, b"\0") + struct.pack("<Q", 0xdb4775248b80fb57)
    (prefix.parent/f"{prefix.name}.index").write_bytes(bytes(out) + footer)
    return prefix

def keras_h5(path, layers:dict):
    "A Keras weights file: {layer: {weight name: array}} in file order (weightless layers have {})."
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.2.4"
        for n, ws in layers.items():
            g = f.create_group(n); g.attrs["weight_names"] = [w.encode() for w in ws]
            for w, a in ws.items(): g[w] = a
    return path

def key_shapes(name:str, scale:int=1) -> dict:
    "key → shape of a key list in fixtures/original_tf (weights only), channel counts divided by `scale`."
    rows = [l.split("\t") for l in (FIX/name).read_text().splitlines()[1:]]
    sc = lambda s: tuple(d // scale if d in (64, 128, 256, 512) else d for d in s)
    if len(rows[0]) == 4: return {r[1].split(":")[0]: sc(tuple(int(x) for x in r[2].split(",") if x)) for r in rows}
    return {r[0][:-len(SUFFIX)]: sc(tuple(int(x) for x in r[1].split(",") if x)) for r in rows if r[3] == "weight"}

def recipe(key, shape, no_gamma=False, SEED=0, GAIN=1.0):
    "The reference outputs' weights: every weight a function of its key."
    rng = np.random.default_rng([zlib.crc32(key.encode()), SEED]); N = rng.standard_normal; last = key.rsplit("/")[-1]
    if last == "kernel":  v = N(shape) * np.sqrt(GAIN / np.prod(shape[:-1]))
    elif last == "bias":  v = 0.05 * N(shape)
    elif last == "gamma": v = 1 + 0.1 * N(shape)
    elif last == "beta":  v = 0.1 * N(shape)
    elif last == "moving_mean":     v = 127.5 + 10 * N(shape) if no_gamma else 0.1 * N(shape)
    elif last == "moving_variance": v = rng.uniform(0.5, 1.5, shape) * (1024 if no_gamma else 1)
    elif last == "w":     v = rng.uniform(-1, 1, shape)
    return np.asarray(v, np.float32).reshape(shape)

def recipe_weights(name:str, scale:int=1) -> dict:
    "Recipe arrays for every weight of a key list."
    keys = key_shapes(name, scale); pre = {k.rsplit("/", 1)[0] for k in keys}
    nog = {p for p in pre if p + "/moving_mean" in keys and p + "/gamma" not in keys}
    return {k: recipe(k, s, no_gamma=k.rsplit("/", 1)[0] in nog) for k, s in keys.items()}

def host_h5(path, ws:dict):
    "qubvel's ResNet34 h5 layout (layers and weight names in the key list's order) holding `ws`."
    layers = {}
    for r in (FIX/"resnet34_no_top.h5.tsv").read_text().splitlines()[1:]:
        layer, w, *_ = r.split("\t"); layers.setdefault(layer, {})[w] = ws[w.split(":")[0]]
    return keras_h5(path, layers)

def authors_folder(folder, ws:dict, name:str="LHC_Net", shards:int=1, optimizer:bool=True):
    "A folder as the authors' download leaves it: `checkpoint` + NAME.index + NAME.data-*, optimizer keys included."
    folder = Path(folder)
    t = {k + SUFFIX: v for k, v in ws.items()}
    if optimizer:
        t["optimizer/iter" + SUFFIX] = np.array(7, np.int64)
        k0 = sorted(ws)[0]; t[f"{k0}/.OPTIMIZER_SLOT/optimizer/m" + SUFFIX] = np.zeros_like(ws[k0])
    write_bundle(folder/name, t, shards)
    (folder/"checkpoint").write_text(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    return folder
