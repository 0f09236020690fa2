"""Hostile, odd and lying dataset files: every reader ends in one line naming the file, never a traceback.

Each case runs twice, through `lhc-fer data check` in-process (exit 2, exactly one stderr line naming the file) and
through the Python API (a `FerDataError` naming it), and neither may change the folder it reads (paths, sizes,
mtimes). The memory bombs also run in a subprocess whose address space is capped at its size after imports + 1 GiB.
"""
import gzip, io, json, os, stat, subprocess, sys, textwrap, warnings, zlib
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from lhc_fer.cli import main
from lhc_fer.data import FerDataError, MAX_CSV_BYTES, MAX_PIXELS, read_image
from lhc_fer.loaders import load_fer

ROOT = Path(__file__).resolve().parent.parent
HDR = "emotion,pixels,Usage\n"
FP_HDR = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"

def px(k=1, n=2304): return " ".join(str((k * 7 + i) % 256) for i in range(n))
def esc(p): return os.fsencode(str(p)).decode("utf-8", "backslashreplace").replace("\n", "\\n")  # how a name must print

def png_chunk(t, d): return len(d).to_bytes(4, "big") + t + d + zlib.crc32(t + d).to_bytes(4, "big")

def png(w, h, idat):
    "A gray 8-bit PNG declaring w x h pixels with the given IDAT payload."
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")

@pytest.fixture(scope="session")
def bomb_png():
    "A real decompression bomb: 13000 x 13000 zero pixels (169 MB decoded) in about 160 KB."
    co, row = zlib.compressobj(9), b"\x00" * 13001
    data = b"".join(co.compress(row * 100) for _ in range(130)) + co.flush()
    b = png(13000, 13000, data)
    assert len(b) < 200_000
    return b

@pytest.fixture(scope="session")
def bomb_gz():
    "A FER2013 csv.gz of about 2.5 MB that inflates to 2 GiB of valid rows (gzip members concatenated)."
    row = b"0," + b" ".join([b"0"] * 2304) + b",Training\n"
    member = gzip.compress(row * (8 * 2**20 // len(row)), 9)
    b = gzip.compress(HDR.encode()) + member * 256
    assert len(b) < 4_000_000
    return b

def small_png(size=48, value=90):
    f = io.BytesIO(); Image.fromarray(np.full((size, size), value, np.uint8)).save(f, "PNG"); return f.getvalue()

def small_jpeg(size=48):
    f = io.BytesIO(); Image.fromarray(np.full((size, size, 3), 120, np.uint8)).save(f, "JPEG"); return f.getvalue()

def jpeg_with_size(w, h):
    "A small valid JPEG whose SOF0 header is rewritten to declare w x h."
    b = bytearray(small_jpeg()); i = b.index(b"\xff\xc0")
    b[i + 5:i + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    return bytes(b)

def folder_with(d, name, data):
    "An image folder d/happy/ holding one good image and `name` (bytes or a symlink target via ('link', target))."
    (d/"happy").mkdir(parents=True, exist_ok=True); (d/"happy"/"good.png").write_bytes(small_png())
    f = d/"happy"/name
    if isinstance(data, tuple): os.symlink(data[1], f)
    else: f.write_bytes(data)
    return f

# --- the cases: each builds its files in `d` and returns (path to check, text the error must contain, CLI args, API kwargs)
def c_empty(d, **_): p = d/"empty.csv"; p.write_bytes(b""); return p, f"{p}:1: empty file", [], {}
def c_header_only(d, **_): p = d/"h.csv"; p.write_text(HDR + "\n\n"); return p, f"{p}:2: no data rows", [], {}
def c_binary(d, **_):
    b = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)); p = d/"garbage.csv"; p.write_bytes(b)
    return p, f"{p}:{b[:b.index(0)].count(10) + 1}: binary content (NUL byte at offset {b.index(0)})", [], {}
def c_latin1(d, **_): p = d/"latin.csv"; p.write_bytes(HDR.encode() + b"0,caf\xe9,Training\n"); return p, f"{p}:2: not UTF-8 text (byte 0xe9", [], {}
def c_superscript(d, **_): p = d/"sup.csv"; p.write_text(HDR + f"²,{px()},Training\n"); return p, f"{p}:2: emotion '²' is not an integer 0-6", [], {}
def c_negative(d, **_): p = d/"neg.csv"; p.write_text(HDR + f"-1,{px()},Training\n"); return p, f"{p}:2: emotion -1 out of range 0-6", [], {}
def c_label7(d, **_): p = d/"seven.csv"; p.write_text(HDR + f"7,{px()},Training\n"); return p, f"{p}:2: emotion 7 out of range 0-6", [], {}
def c_huge_label(d, **_):   # int() refuses more than 4300 digits
    p = d/"digits.csv"; p.write_text(HDR + "9" * 5000 + f",{px()},Training\n"); return p, f"{p}:2: emotion '999999999999'… (5000 bytes) out of range", [], {}
def c_columns(d, **_): p = d/"cols.csv"; p.write_text(HDR + "0,1 2 3\n"); return p, f"{p}:2: expected 3 fields (emotion,pixels,usage), found 2", [], {}
def c_no_header(d, **_): p = d/"nohdr.csv"; p.write_text(f"0,{px()},Training\n"); return p, f"{p}:1: unknown layout", [], {}
def c_no_pixels(d, **_): p = d/"nopix.csv"; p.write_text(HDR + "0,,Training\n" * 3); return p, f"{p}:2: found 0 pixel values, expected 2304 (48x48)", [], {}
def c_50mb_line(d, **_):    # one 50 MB line, no newline: read 64 KB of it to see it is no known layout
    p = d/"oneline.csv"; p.write_bytes(b"x" * 50_000_000); return p, f"{p}:1: unknown layout: header 'xxxxxxxx", [], {}
def c_50mb_row(d, **_):     # a 50 MB pixel field of 25,000,001 values (not a square)
    p = d/"longrow.csv"; p.write_bytes(HDR.encode() + b"0," + (b"1 " * 25_000_001)[:-1] + b",Training\n")
    return p, f"{p}:2: found 25000001 pixel values, expected 2304 (48x48)", [], {}
def c_quoted_long(d, **_):  # over the csv module's 128 KB field limit
    p = d/"quoted.csv"; p.write_text(HDR + f'0,"{px(1, 50001)}",Training\n'); return p, f"{p}:2: found 50001 pixel values, expected 2304", [], {}
def c_gz_bomb(d, bomb_gz, **_):
    p = d/"bomb.csv.gz"; p.write_bytes(bomb_gz)
    return p, f"{p}: decompresses to more than 10000000 bytes, the limit (raise it with --max-csv-bytes)", ["--max-csv-bytes", "10000000"], dict(max_csv_bytes=10_000_000)
def c_gz_truncated(d, **_):
    rows = np.random.default_rng(1).integers(0, 256, (20, 2304))
    b = gzip.compress((HDR + "".join(f"0,{' '.join(map(str, r))},Training\n" for r in rows)).encode()); assert len(b) > 6000
    p = d/"cut.csv.gz"; p.write_bytes(b[:len(b) // 2])
    return p, f"{p}: truncated or corrupt gzip file", [], {}
def c_too_big(d, **_):
    p = d/"big.csv"; p.write_text(HDR + f"0,{px()},Training\n")
    return p, f"{p}: {p.stat().st_size} bytes, more than the limit of 1000 bytes (raise it with --max-csv-bytes)", ["--max-csv-bytes", "1000"], dict(max_csv_bytes=1000)
def c_fifo(d, **_): p = d/"pipe.csv"; os.mkfifo(p); return p, f"{p}: not a regular file (a device, pipe or socket)", [], {}
def c_link_loop(d, **_): p = d/"loop.csv"; os.symlink("loop.csv", p); return p, f"{p}: symbolic link loop", [], {}
def c_dev_zero(d, **_): p = d/"zero.csv"; os.symlink("/dev/zero", p); return p, f"{p}: not a regular file", [], {}
def c_newline_name(d, **_): p = d/"bad\nname.csv"; p.write_bytes(b""); return p, f"{esc(p)}:1: empty file", [], {}
def c_non_utf8_name(d, **_):
    p = Path(os.fsdecode(os.fsencode(d) + b"/caf\xe9.csv")); p.write_text(HDR); return p, f"{esc(p)}:2: no data rows", [], {}
def c_ferplus_vote(d, **_):
    (d/"fer2013.csv").write_text(HDR + f"0,{px()},Training\n"); p = d/"fer2013new.csv"; p.write_text(FP_HDR + "Training,a.png,0,²,1,0,0,0,0,0,1,0\n")
    return p, f"{p}:2: vote counts must be integers >= 0", [], {}
def c_ferplus_huge_vote(d, **_):
    (d/"fer2013.csv").write_text(HDR + f"0,{px()},Training\n"); p = d/"fer2013new.csv"; p.write_text(FP_HDR + "Training,a.png,0,8,1,0,0,0,0,0," + "9" * 400 + ",0\n")
    return p, f"{p}:2: vote counts must be integers >= 0 (at most 9 digits)", [], {}
def c_ferplus_no_pixels(d, **_):
    p = d/"fer2013new.csv"; p.write_text(FP_HDR + "Training,a.png,0,8,1,0,0,0,0,0,1,0\n")
    return p, f"{p}: FER+ labels need the FER2013 pixels: {d/'fer2013.csv'} not found", [], {}
def c_list_superscript(d, **_):
    (d/"a.png").write_bytes(small_png()); p = d/"list.csv"; p.write_text("path,label\na.png,²\n"); return p, f"{p}:2: unknown class '²'", [], {}
def c_list_outside(d, **_):
    (d/"secret.png").write_bytes(small_png()); (d/"lists").mkdir(); p = d/"lists"/"list.csv"; p.write_text("path,label\n../secret.png,happy\n")
    return p, f"{p}:2: image path '../secret.png' is outside the list's folder", [], {}
def c_list_absolute(d, **_):
    (d/"a.png").write_bytes(small_png()); p = d/"list.csv"; p.write_text(f"path,label\n{d/'a.png'},happy\n")
    return p, f"{p}:2: image path '{d/'a.png'}' is outside the list's folder", [], {}
def c_list_missing(d, **_): p = d/"list.csv"; p.write_text("path,label\nnope.png,sad\n"); return p, f"{p}:2: image 'nope.png': no such image file", [], {}
def c_list_bomb(d, bomb_png, **_):
    (d/"bomb.png").write_bytes(bomb_png); p = d/"list.csv"; p.write_text("path,label\nbomb.png,sad\n")
    return p, f"{p}:2: image 'bomb.png': image of 13000×13000 pixels exceeds the limit of 50000000 pixels (raise it with --max-pixels)", [], {}
def c_folder_bomb(d, bomb_png, **_):
    f = folder_with(d, "bomb.png", bomb_png); return d, f"{f}: image of 13000×13000 pixels exceeds the limit of 50000000 pixels (raise it with --max-pixels)", [], {}
def c_folder_pil_bomb(d, **_):   # over Pillow's own guard: it refuses in Image.open
    f = folder_with(d, "huge.png", png(20000, 20000, zlib.compress(b""))); return d, f"{f}: image of 400000000 pixels exceeds the limit of 50000000 pixels", [], {}
def c_folder_jpeg_dims(d, **_):
    f = folder_with(d, "wide.jpg", jpeg_with_size(12000, 9000)); return d, f"{f}: image of 12000×9000 pixels exceeds the limit of 50000000", [], {}
def c_folder_max_pixels(d, **_):
    f = folder_with(d, "face.png", small_png(64)); (d/"happy"/"good.png").unlink()
    return d, f"{f}: image of 64×64 pixels exceeds the limit of 100 pixels (raise it with --max-pixels)", ["--max-pixels", "100"], dict(max_pixels=100)
def c_folder_truncated(d, **_): f = folder_with(d, "cut.png", small_png()[:70]); return d, f"{f}: unreadable or truncated image", [], {}
def c_folder_cut_jpeg(d, **_): b = small_jpeg(); f = folder_with(d, "cut.jpg", b[:len(b) // 2]); return d, f"{f}: unreadable or truncated image", [], {}
def c_folder_link_loop(d, **_): f = folder_with(d, "loop.png", ("link", "loop.png")); return d, f"{f}: symbolic link loop", [], {}
def c_folder_newline_image(d, **_): f = folder_with(d, "a\nb.png", small_png()[:70]); return d, f"{esc(f)}: unreadable or truncated image", [], {}
def c_folder_non_utf8_image(d, **_):
    f = Path(os.fsdecode(os.fsencode(d) + b"/happy/\xff.png")); folder_with(d, "x.txt", b""); f.write_bytes(b"\x89PNG\r\n\x1a\n")
    return d, f"{esc(f)}: unreadable or truncated image", [], {}
def c_synthetic_superscript(d, **_): return "synthetic:²", "synthetic:²: expected synthetic or synthetic:N with N a number of faces from 1 to 100000", [], {}
def c_synthetic_huge(d, **_): return "synthetic:999999999", "synthetic:999999999: expected synthetic or synthetic:N", [], {}

CASES = {k[2:]: v for k, v in globals().items() if k.startswith("c_")}

def snapshot(top) -> dict:
    "Every path under `top` (links not followed) with its type, size and mtime."
    out = {}
    for dirpath, dirs, files in os.walk(top, followlinks=False):
        for n in dirs + files:
            st = os.lstat(os.path.join(dirpath, n)); out[os.path.join(dirpath, n)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out

NOISY = ("PIL", "pandas", "numpy", "lhc_fer")   # warnings from these would print extra lines in a real run

def noisy(ws): return [str(w.message) for w in ws if any(f"{os.sep}{m}{os.sep}" in w.filename for m in NOISY) or "ipython-input" in w.filename]

@pytest.fixture
def case(request, tmp_path, bomb_png, bomb_gz):
    "Build the case's files; yield them; check the folder is as it was."
    d = tmp_path/"data"; d.mkdir()
    path, want, args, kw = CASES[request.param](d, bomb_png=bomb_png, bomb_gz=bomb_gz)
    before = snapshot(tmp_path)
    yield path, want, args, kw
    assert snapshot(tmp_path) == before                       # nothing created, changed or removed

@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_cli(case, capsys):
    path, want, args, _ = case
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        rc = main(["data", "check", str(path), *args])
    out, err = capsys.readouterr()
    assert rc == 2, out + err
    assert "Traceback" not in out + err and "internal error" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err                                 # exactly one line on stderr ...
    assert lines[0].startswith("lhc-fer: error: ") and want in lines[0], (want, lines[0])   # ... naming the file
    assert not noisy(ws)

@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_api(case, capsys):
    path, want, _, kw = case
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        with pytest.raises(FerDataError) as e: load_fer(path, **kw)
    msg = str(e.value)
    assert want in msg, (want, msg)
    for line in msg.splitlines(): line.encode("utf-8")          # printable: no lone surrogates from odd names
    assert e.value.problems and e.value.n >= 1
    assert capsys.readouterr().err == "" and not noisy(ws)

def test_case_count():
    assert len(CASES) >= 20

# --- images as a person expects them ------------------------------------------------------------------------------
def test_exif_upright_and_16_bit(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    ex = Image.Exif(); ex[0x0112] = 8                          # orientation 8: stored turned, view it 90° counter-clockwise
    Image.fromarray(a).save(tmp_path/"phone.png", exif=ex)
    np.testing.assert_array_equal(read_image(tmp_path/"phone.png"), np.rot90(a, 1))
    v = np.array([[0, 257, 1000, 30000, 65535]], np.uint16)
    Image.fromarray(v).save(tmp_path/"deep.png")
    assert Image.open(tmp_path/"deep.png").mode.startswith("I;16")
    got = read_image(tmp_path/"deep.png")
    np.testing.assert_array_equal(got[..., 0], np.round(v / 257).astype(np.uint8))   # scaled, not clipped to 255
    assert (got[..., 0] == got[..., 2]).all()

def test_max_pixels_is_the_limit(tmp_path):
    (tmp_path/"a.png").write_bytes(small_png(100))
    assert read_image(tmp_path/"a.png", max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(FerDataError, match="image of 100×100 pixels exceeds the limit of 9999 pixels"): read_image(tmp_path/"a.png", max_pixels=9_999)
    assert MAX_PIXELS == 50_000_000 and MAX_CSV_BYTES == 1 << 30

# --- memory bombs under an address-space limit ----------------------------------------------------------------------
CHILD = textwrap.dedent('''
    import json, resource, sys, warnings
    warnings.simplefilter("ignore")
    import lhc_fer.data as D, lhc_fer.loaders as L             # the baseline: after imports
    def status(key): return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key + ":"))
    lim = status("VmSize") + (1 << 30); resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    for what, path in json.loads(sys.argv[1]):
        with open("/proc/self/clear_refs", "w") as f: f.write("5")   # restart the peak (VmHWM) at the current RSS
        base = status("VmRSS")                                 # (ru_maxrss would still hold the forking parent's peak)
        try:
            D.read_image(path) if what == "image" else L.load_fer(path)
            out = "no error"
        except D.LhcFerError as e: out = "error: " + str(e)
        except MemoryError: out = "MemoryError"
        print(json.dumps(dict(path=path, out=out, base=base, peak=status("VmHWM"))), flush=True)
''')

BOMBS = [("image", "bomb.png", "bomb.png: image of 13000×13000 pixels exceeds the limit of 50000000 pixels (raise it with --max-pixels)"),
         ("csv", "bomb.csv.gz", f"bomb.csv.gz: decompresses to more than {MAX_CSV_BYTES} bytes, the limit (raise it with --max-csv-bytes)"),
         ("csv", "longrow.csv", "longrow.csv:2: found 25000001 pixel values, expected 2304 (48x48)")]

@pytest.mark.slow
def test_bombs_bounded(tmp_path, bomb_png, bomb_gz):
    "A 160 KB PNG bomb, a 2.5 MB gzip bomb (2 GiB inflated, against the default 1 GiB limit) and a 50 MB row, in one capped child."
    (tmp_path/"bomb.png").write_bytes(bomb_png); (tmp_path/"bomb.csv.gz").write_bytes(bomb_gz); c_50mb_row(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    todo = json.dumps([(w, str(tmp_path/n)) for w, n, _ in BOMBS])
    r = subprocess.run([sys.executable, "-c", CHILD, todo], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]                  # not killed, no traceback
    results = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(results) == len(BOMBS)
    for (_, name, want), res in zip(BOMBS, results):
        print(f"{name}: peak RSS {res['peak'] / 2**20:.0f} MB, {(res['peak'] - res['base']) / 2**20:.0f} MB over the baseline after imports")
        assert res["out"].startswith("error: ") and want in res["out"], res["out"]     # the one-line error, not MemoryError
        assert len(res["out"].splitlines()) <= 2                # the problem (and, for rows, its count line)
        assert res["peak"] - res["base"] < 400 * 2**20, res     # bounded: no gigabytes decoded or inflated
