"`lhc-fer predict` on real media: folders, globs, bad files, batching, and a video tracked and annotated, on a tiny saved LHC-Net."
import json
from pathlib import Path
import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from lhc_fer.cli import main
from conftest import lhc, one_line_error

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

@pytest.fixture(scope="module")
def weights(bn_lhc_net):
    "A tiny LHC-Net (32 px, quarter width, one head, 4-d embeddings) with BatchNorm statistics from synthetic faces."
    return bn_lhc_net(img_size=32, width=0.25, heads=1, emb=4)

def astronaut(): import skimage.data; return skimage.data.astronaut()

def write_rgb(path, rgb): path.parent.mkdir(parents=True, exist_ok=True); assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    "30 frames, 480x360: the astronaut's head moving right and growing on the left, a synthetic face moving down on the right."
    from lhc_fer.synthetic import synthetic_faces
    face = synthetic_faces(n=7, seed=0).images[2]
    syn = cv2.cvtColor(cv2.resize(face, (110, 110), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    path = tmp_path_factory.mktemp("video")/"clip.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (480, 360))
    head = astronaut()[16:216, 124:324]                                  # 200 x 200 around the face
    for i in range(30):
        s = 120 + 2 * i                                                  # scaled: 120 -> 178 px
        a = cv2.resize(head, (s, s), interpolation=cv2.INTER_AREA)
        fr = np.full((360, 480, 3), int(face[0].mean()), np.uint8)      # the synthetic face's own background
        fr[40:40 + s, 10 + 3 * i:10 + 3 * i + s] = a; fr[40 + 5 * i:150 + 5 * i, 340:450] = syn
        w.write(cv2.cvtColor(fr, cv2.COLOR_RGB2BGR))
    w.release()
    return path

def frames_in(path):
    cap, n = cv2.VideoCapture(str(path)), 0
    while cap.read()[0]: n += 1
    cap.release()
    return n

def test_video_tracked_and_annotated(weights, clip, tmp_path, capsys):
    csv, out, png = tmp_path/"frames.csv", tmp_path/"out.mp4", tmp_path/"timeline.png"
    assert main(["predict", str(weights), str(clip), "--csv", str(csv), "--annotate", str(out), "--timeline", str(png)]) == 0
    df = pd.read_csv(csv)
    assert list(df.columns) == ["file", "frame", "time", "id", "face", "x", "y", "w", "h", *CLASSES, "top", "prob", "status", "note"]
    assert sorted(df.frame.unique()) == list(range(30)) and (df.status == "ok").all()
    assert df.groupby("id").size().to_dict() == {1: 30, 2: 30}           # two faces, each one id the whole clip (ids from 1)
    for k, g in df.groupby("id"):
        left = g.x < 240
        assert left.all() or not left.any()                               # an id never jumps to the other face
    np.testing.assert_allclose(df[CLASSES].sum(axis=1), 1, atol=1e-5)
    assert (df.top == np.array(CLASSES)[df[CLASSES].to_numpy().argmax(1)]).all()
    assert frames_in(out) == frames_in(clip) == 30
    assert png.read_bytes()[:4] == b"\x89PNG"
    o = capsys.readouterr()
    assert "mean softmax probabilities of each tracked face" in o.out
    assert "30 frames in" in o.err and "frames/s" in o.err                 # the progress line when not a terminal

def test_every_and_smooth(weights, clip, tmp_path):
    from lhc_fer.predict import Predictor
    from lhc_fer.checkpoint import load_model
    m = load_model(weights).eval()
    raw = Predictor(m).predict_video(clip, every=4, progress=False)
    sm = Predictor(m).predict_video(clip, every=4, smooth=0.7, annotate=tmp_path/"s.avi", progress=False)
    assert sorted(sm.frame.unique()) == list(range(0, 30, 4))
    assert frames_in(tmp_path/"s.avi") == 30                             # every frame written, boxes carried over
    for k in (0, 1):                                                      # s = 0.7 s' + 0.3 p, by hand
        p, s = raw[raw.id == k][CLASSES].to_numpy(), sm[sm.id == k][CLASSES].to_numpy()
        ref = p.copy()
        for t in range(1, len(p)): ref[t] = 0.7 * ref[t - 1] + 0.3 * p[t]
        np.testing.assert_allclose(s, ref, atol=1e-6)

def test_folder_glob_and_a_truncated_image(weights, tmp_path, capsys):
    import skimage.data
    write_rgb(tmp_path/"album"/"a.png", astronaut()); write_rgb(tmp_path/"album"/"deep"/"b.png", astronaut()[:, ::-1].copy())
    write_rgb(tmp_path/"more"/"c.png", astronaut()); write_rgb(tmp_path/"more"/"coffee.png", skimage.data.coffee())
    (tmp_path/"album"/"readme.txt").write_text("skipped")
    bad = tmp_path/"more"/"cut.png"; bad.write_bytes((tmp_path/"album"/"a.png").read_bytes()[:3000])
    csv = tmp_path/"faces.csv"
    rc = main(["predict", str(weights), str(tmp_path/"album"), str(tmp_path/"more"/"*.png"), "--csv", str(csv),
               "--annotate", str(tmp_path/"ann"), "--min-face", "40", "--recursive"])   # the mirrored photo has a false 26 px face
    assert rc == 0
    df = pd.read_csv(csv, keep_default_na=False)
    names = [Path(f).name for f in df.file]
    assert names == ["a.png", "b.png", "c.png", "coffee.png", "cut.png"]
    assert df.status.tolist() == ["ok", "ok", "ok", "no face", "error"]
    assert "cut.png: unreadable or truncated image" in df.note[4]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "skipped 1 file(s) that are not images or videos (readme.txt)" in err[0], err
    assert "coffee.png: no face found" in err[1] and "cut.png: unreadable or truncated image" in err[2]
    assert sorted(p.relative_to(tmp_path/"ann").as_posix() for p in (tmp_path/"ann").rglob("*.png")) == \
        ["album/a.png", "album/deep/b.png", "more/c.png", "more/coffee.png"]
    assert main(["predict", str(weights), str(tmp_path/"album"), "--annotate", str(tmp_path/"ann"), "--recursive"]) == 2
    assert "ann: folder exists and is not empty; pass --force" in capsys.readouterr().err
    assert main(["predict", str(weights), str(tmp_path/"album"), "--annotate", str(tmp_path/"ann"), "--force", "--recursive"]) == 0

def hand_probs(m, row):
    "The row's face cropped by hand (cv2: 1.4x its box, area resize to 48 px) and run alone through the eager fp32 model."
    g = cv2.cvtColor(cv2.imread(row.file), cv2.COLOR_BGR2GRAY)
    side = round(max(row.w, row.h) * 1.4); x0, y0 = round(row.x + row.w / 2 - side / 2), round(row.y + row.h / 2 - side / 2)
    crop = cv2.resize(g[y0:y0 + side, x0:x0 + side], (48, 48), interpolation=cv2.INTER_AREA)
    with torch.no_grad(): return m(torch.from_numpy(crop).float()[None, None]).softmax(-1)[0].numpy()

def test_batched_equals_one_at_a_time(weights, tmp_path):
    "Faces of several photos in batches of 3 against each face cropped by hand (cv2) and run alone."
    from lhc_fer.predict import Predictor
    from lhc_fer.checkpoint import load_model
    m, a = load_model(weights).eval(), astronaut()
    two = np.full((512, 1024, 3), 90, np.uint8); two[:, :512] = a; two[:, 512:] = a[:, ::-1]     # two faces in one photo
    photos = [a, two, cv2.resize(a, (400, 400)), a[:, ::-1].copy()]
    for i, p in enumerate(photos): write_rgb(tmp_path/f"p{i}.png", p)
    df = Predictor(m, bs=3, min_face=40).predict_media(sorted(tmp_path.glob("p*.png")))   # the mirror has a false 26 px face
    assert df.groupby("file").size().tolist() == [1, 2, 1, 1]
    for r in df.itertuples():
        np.testing.assert_allclose([getattr(r, c) for c in CLASSES], hand_probs(m, r), atol=1e-5)

def test_bad_inputs_are_one_line_errors(weights, tmp_path, capsys):
    (tmp_path/"empty").mkdir(); (tmp_path/"empty.mp4").write_bytes(b"")
    cases = [([str(tmp_path/"empty")], "empty: no images or videos in this folder"),
             ([str(tmp_path/"empty.mp4")], "empty.mp4: unreadable or truncated video"),
             ([str(tmp_path/"*.jpg")], "*.jpg: no image or video file matches"),
             ([str(tmp_path/"gone.png")], "gone.png: no such image file")]
    for args, msg in cases:
        one_line_error(lhc("predict", weights, *args), msg)
    (tmp_path/"x.csv").write_text("old")
    assert main(["predict", str(weights), str(tmp_path/"gone.png"), "--csv", str(tmp_path/"x.csv")]) == 2
    assert "x.csv: exists; pass --force" in capsys.readouterr().err and (tmp_path/"x.csv").read_text() == "old"

def test_json_file_rows(weights, tmp_path):
    write_rgb(tmp_path/"a.png", astronaut())
    assert main(["predict", str(weights), str(tmp_path/"a.png"), "--json-file", str(tmp_path/"f.json"), "--tta", "flip"]) == 0
    (row,) = json.loads((tmp_path/"f.json").read_text())
    assert (row["x"], row["y"], row["w"], row["h"], row["face"], row["status"]) == (177, 66, 95, 95, 1, "ok")   # faces count from 1
    assert row["frame"] is None and row["id"] is None                    # a photo: the video columns are there, empty
    assert abs(sum(row[c] for c in CLASSES) - 1) < 1e-5 and row["top"] == CLASSES[int(np.argmax([row[c] for c in CLASSES]))]

@pytest.mark.slow
def test_compiled_and_bf16(weights, clip, tmp_path):
    "--compile: 5 photo faces in padded batches of 4 match each face run alone, and a video matches the eager run; --precision bf16: close, not the same numbers."
    from lhc_fer.predict import Predictor
    from lhc_fer.checkpoint import load_model
    m, a = load_model(weights).eval(), astronaut()
    for i in range(5): write_rgb(tmp_path/"in"/f"p{i}.png", np.ascontiguousarray(a[2 * i:400 + 2 * i, 3 * i:400 + 3 * i]))
    args = ["--bs", "4", "--min-face", "60"]
    assert main(["predict", str(weights), str(tmp_path/"in"), str(clip), *args, "--compile", "--csv", str(tmp_path/"c.csv")]) == 0   # one compile
    assert main(["predict", str(weights), str(tmp_path/"in"), *args, "--precision", "bf16", "--csv", str(tmp_path/"b.csv")]) == 0
    allc, bf = pd.read_csv(tmp_path/"c.csv"), pd.read_csv(tmp_path/"b.csv")
    comp, vid = allc[allc.frame.isna()], allc[allc.frame.notna()]
    eager = Predictor(m, bs=4, min_face=60).predict_video(clip, progress=False)
    assert len(vid) == len(eager) > 30 and (vid.id.to_numpy() == eager.id.to_numpy()).all()
    np.testing.assert_allclose(vid[CLASSES].to_numpy(), eager[CLASSES].to_numpy(), atol=1e-4)
    assert len(comp) == 5 and (comp.status == "ok").all()
    ref = np.stack([hand_probs(m, r) for r in comp.itertuples()])
    np.testing.assert_allclose(comp[CLASSES].to_numpy(), ref, atol=1e-4)
    d = np.abs(bf[CLASSES].to_numpy() - ref)
    assert d.max() < 0.05 and d.max() > 0, d.max()

@pytest.mark.slow
def test_compile_failure_is_one_line(weights, tmp_path, capsys):
    "No working C++ compiler: torch.compile's failure is one line that says to drop --compile."
    import torch._inductor.config as ic
    write_rgb(tmp_path/"a.png", astronaut())
    with ic.patch({"cpp.cxx": ("/nonexistent/g++",), "fx_graph_cache": False}):
        r = lhc("predict", weights, tmp_path/"a.png", "--compile", "--bs", "2")
    one_line_error(r, "compile: torch.compile could not build LhcNet", "drop --compile")

def test_mtcnn_detector(weights, tmp_path, capsys, monkeypatch):
    "--detector mtcnn finds the cameraman's turned face that Haar misses; without facenet-pytorch, a one-line error says how to install it."
    import skimage.data
    from lhc_fer import faces
    write_rgb(tmp_path/"camera.png", np.stack([skimage.data.camera()] * 3, -1))
    args = ["predict", str(weights), str(tmp_path/"camera.png")]
    assert main(args) == 2 and "no face found in the 512x512 image (OpenCV Haar cascade" in capsys.readouterr().err
    assert main(args + ["--detector", "mtcnn", "--csv", str(tmp_path/"m.csv")]) == 0
    (row,) = pd.read_csv(tmp_path/"m.csv").itertuples()
    assert row.status == "ok" and 150 < row.x + row.w / 2 < 300 and 100 < row.y + row.h / 2 < 250, row   # the head, top middle
    faces._mtcnn.cache_clear(); monkeypatch.setitem(__import__("sys").modules, "facenet_pytorch", None)
    capsys.readouterr()                                                   # the run above may have said its progress
    one_line_error(lhc(*args, "--detector", "mtcnn"), "pip install --no-deps facenet-pytorch==2.6.0")
    faces._mtcnn.cache_clear()


def test_one_schema_for_photos_and_videos(weights, clip, tmp_path, capsys):
    "A photo CSV and a video CSV share their header; --json prints exactly the records --json-file writes."
    write_rgb(tmp_path/"a.png", astronaut())
    assert main(["predict", str(weights), str(tmp_path/"a.png"), "--csv", str(tmp_path/"p.csv"), "--json-file", str(tmp_path/"p.json")]) == 0
    assert main(["predict", str(weights), str(clip), "--every", "2", "--csv", str(tmp_path/"v.csv")]) == 0
    head = lambda f: (tmp_path/f).read_text().splitlines()[0]
    assert head("p.csv") == head("v.csv")
    capsys.readouterr()
    assert main(["predict", str(weights), str(tmp_path/"a.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((tmp_path/"p.json").read_text())

def test_folders_hold_videos_too(weights, clip, tmp_path, capsys):
    "A folder with only a video is predicted; other files are skipped with a note; subfolders need --recursive."
    d = tmp_path/"clips"; (d/"sub").mkdir(parents=True)
    (d/"clip.mp4").write_bytes(clip.read_bytes()); (d/"notes.txt").write_text("x"); write_rgb(d/"sub"/"a.png", astronaut())
    assert main(["predict", str(weights), str(d), "--every", "2", "--csv", str(tmp_path/"f.csv")]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 file(s) that are not images or videos (notes.txt)" in err, err
    assert set(pd.read_csv(tmp_path/"f.csv").file) == {str(d/"clip.mp4")}
    assert main(["predict", str(weights), str(d), "--every", "2", "--recursive", "--csv", str(tmp_path/"g.csv")]) == 0
    assert set(pd.read_csv(tmp_path/"g.csv").file) == {str(d/"clip.mp4"), str(d/"sub"/"a.png")}


def test_h264_with_a_track_filter(weights, clip, tmp_path):
    "The annotated copy is H.264; a face seen in fewer than three analysed frames in a row is not reported."
    import imageio_ffmpeg, subprocess
    out = tmp_path/"ann.mp4"
    assert main(["predict", str(weights), str(clip), "--annotate", str(out), "--csv", str(tmp_path/"f.csv")]) == 0
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(out)], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "yuv420p" in info, info
    df = pd.read_csv(tmp_path/"f.csv")
    assert (df.dropna(subset=["id"]).groupby("id").size() >= 3).all()
