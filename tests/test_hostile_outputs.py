"""Hostile uses of every command that writes: outputs pointed at inputs and user folders, bad settings, kills.

Each case asserts the exit code, exactly one stderr line naming what is wrong, no traceback, and a snapshot of the
directory tree (paths, sizes, mtimes) unchanged, or changed only by the intended outputs."""
import os, signal, subprocess, sys
from pathlib import Path
import cv2
import numpy as np
import pytest
from lhc_fer.cli import main
from lhc_fer.outputs import KIT_MARK, TMP_SUFFIX
from tiny import TINY
from conftest import lhc, one_line_error, wait_until

T = ["--protocol", "fast", "--epochs", "1", *TINY]


def tree(root) -> dict:
    "Every path under `root` with its size and mtime (the snapshot a failed command must leave unchanged)."
    root = Path(root)
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if ".lock" != p.name}


def refused(argv, *want, rc=2):
    "Run `lhc-fer ARGV` in-process (`conftest.lhc`); it must exit `rc` with one stderr line holding every string of `want`."
    return one_line_error(lhc(*argv), *want, rc=rc)


@pytest.fixture(scope="module")
def weights(trained_run):
    "A tiny LHC-Net (16 px) in a run folder: the session's trained run (`conftest.trained_run`), never changed here."
    return trained_run/"model.safetensors"


@pytest.fixture
def photos(tmp_path):
    "A user's photo folder with one face photo."
    import skimage.data
    d = tmp_path/"photos"; d.mkdir()
    assert cv2.imwrite(str(d/"astronaut.png"), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return d


# ---- train -----------------------------------------------------------------------------------------------------
def test_force_never_deletes_the_dataset(csv, tmp_path, capsys):
    d = tmp_path/"d"; d.mkdir(); data = d/"fer.csv"; data.write_bytes(Path(csv).read_bytes())
    before = tree(tmp_path)
    refused(["train", data, "--out", d, "--force", *T], "contains the input", str(data))
    assert tree(tmp_path) == before


def test_force_never_empties_a_user_folder(csv, tmp_path, capsys):
    u = tmp_path/"u"; u.mkdir(); (u/"thesis.tex").write_text("x")
    before = tree(tmp_path)
    refused(["train", csv, "--out", u, "--force", *T], "was not written by lhc-fer", "'thesis.tex'")
    refused(["train", csv, "--out", u, "--force", *T, "--host-weights", tmp_path/"missing.h5"], "missing.h5")
    assert tree(tmp_path) == before


def test_settings_checked_before_the_folder_exists(csv, tmp_path, capsys):
    out = tmp_path/"run"
    for bad, want in [(["--heads", "4", "4"], "--heads: Config.heads needs 5 values"),
                      (["--bs", "0"], "--bs: Config.bs = 0"), (["--seed", "-3"], "--seed: Config.seed = -3"),
                      (["--aug", "wild"], "invalid choice: 'wild'"), (["--lr", "fast"], "invalid float value: 'fast'"),
                      (["--host-weights", tmp_path/"nope.h5"], "nope.h5: no such file"),
                      (["--heads", "3", "3", "3", "3", "3"], "do not all divide")]:
        refused(["train", csv, "--out", out, *T, *bad], want)
        assert not out.exists(), bad                                          # no config.json, no lock, no stage folder
    assert main(["train", csv, "--out", str(out), *T]) == 0                   # the corrected command is not refused


def test_out_inside_the_data_folder(tmp_path, capsys):
    from lhc_fer.data import write_fer2013_csv
    from lhc_fer.synthetic import synthetic_faces
    d = tmp_path/"faces"; d.mkdir()
    write_fer2013_csv(synthetic_faces(14, seed=0), d/"fer.csv")
    before = tree(tmp_path)
    refused(["train", d/"fer.csv", "--out", d/"fer.csv", *T], "is the input")
    assert tree(tmp_path) == before


def test_what_the_user_typed_wins(csv, tmp_path):
    from lhc_fer.config import Config
    assert main(["train", csv, "--out", str(tmp_path/"r"), *T, "--lr", "1e-4", "--aug", "paper_host1"]) == 0
    cfg = Config.from_json(tmp_path/"r"/"config.json")
    assert (cfg.lr, cfg.aug, cfg.label_smoothing) == (1e-4, "paper_host1", 0.1)   # typed kept; the rest from the recipe
    assert {"lr", "aug", "epochs"} <= cfg.given and "label_smoothing" not in cfg.given


def test_sigkill_leftovers_do_not_block_the_next_run(csv, run_copy):
    "The session's trained run (copied), with the temporaries a SIGKILLed writer leaves, trained again with --force."
    run = run_copy
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    left = run/"host"/f".model.safetensors.{dead}.abcd{TMP_SUFFIX}"; left.write_bytes(b"half")
    top = run/f".metrics.json.{dead}.efgh{TMP_SUFFIX}"; top.write_bytes(b"{")
    assert main(["train", csv, "--out", str(run), *T, "--force"]) == 0
    assert not left.exists() and not top.exists() and (run/"lhc"/"metrics.json").exists()


# ---- predict ---------------------------------------------------------------------------------------------------
def test_annotate_never_onto_the_photos(weights, photos, capsys):
    before = tree(photos.parent)
    refused(["predict", weights, photos, "--annotate", photos, "--force"], "--annotate", "the input")
    refused(["predict", weights, photos, "--annotate", photos/"ann"], "lies inside the input folder")
    refused(["predict", weights, photos/"astronaut.png", "--csv", photos/"astronaut.png", "--force"], "--csv", "is the input")
    refused(["predict", weights, photos, "--csv", weights], "--csv", "exists; pass --force")
    refused(["predict", weights, photos, "--csv", weights, "--force"], "--csv", "is the input")
    assert tree(photos.parent) == before


def test_force_on_a_user_folder_as_annotate(weights, photos, tmp_path, capsys):
    mine = tmp_path/"mine"; mine.mkdir(); (mine/"holiday.jpg").write_bytes(b"jpeg")
    before = tree(tmp_path)
    refused(["predict", weights, photos, "--annotate", mine, "--force"], "was not written by lhc-fer")
    refused(["predict", weights, photos, "--annotate", mine], "was not written by lhc-fer")
    assert tree(tmp_path) == before


def test_predict_outputs_land_as_a_set(weights, photos, tmp_path, capsys):
    out = tmp_path/"out"
    argv = ["predict", weights, photos, "--csv", out/"f.csv", "--json-file", out/"f.json", "--annotate", out/"ann"]
    assert main([str(a) for a in argv]) == 0
    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert got == ["ann", f"ann/{KIT_MARK}", "ann/astronaut.png", "f.csv", "f.json"], got
    capsys.readouterr()
    before = tree(tmp_path)
    refused(argv, "f.csv: exists; pass --force")                    # nothing overwritten, nothing added
    assert tree(tmp_path) == before
    new = [a if not str(a).startswith(str(out)) else tmp_path/"new"/Path(a).name for a in argv]
    refused(new + ["--bs", "0"], "--bs 0")                          # a bad setting: nothing is written
    refused(new + ["--smooth", "1.5"], "--smooth 1.5")
    assert not (tmp_path/"new").exists()
    assert main([str(a) for a in argv + ["--force"]]) == 0 and (out/"f.csv").exists()


def test_a_failed_predict_leaves_nothing(weights, tmp_path, capsys):
    empty = tmp_path/"blank"; empty.mkdir()
    assert cv2.imwrite(str(empty/"wall.png"), np.full((64, 64, 3), 128, np.uint8))
    refused(["predict", weights, empty, "--csv", tmp_path/"o"/"f.csv", "--annotate", tmp_path/"o"/"ann"], "no face")
    assert not (tmp_path/"o").exists()


def test_csv_cells_cannot_run_as_formulas(weights, tmp_path, monkeypatch):
    import skimage.data
    d = tmp_path/"p"; d.mkdir(); monkeypatch.chdir(d)
    assert cv2.imwrite(str(d/"=HYPERLINK(1).png"), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    assert main(["predict", str(weights), "=HYPERLINK(1).png", "--csv", str(tmp_path/"f.csv")]) == 0
    cells = [l.split(",")[0] for l in (tmp_path/"f.csv").read_text().splitlines()[1:]]
    assert cells and all(c.startswith("'=") or c.startswith("\"'") for c in cells), cells


# ---- eval, export, report, data synth -------------------------------------------------------------------------------
def test_eval_never_overwrites_and_records_the_weights(weights, csv, tmp_path, capsys):
    import hashlib, json
    out = tmp_path/"ev"
    assert main(["eval", str(weights), csv, "--split", "all", "--out", str(out)]) == 0
    m = json.loads((out/"metrics.json").read_text())
    assert m["weights_sha256"] == hashlib.sha256(Path(weights).read_bytes()).hexdigest() and m["weights"] == str(Path(weights).resolve())
    capsys.readouterr(); before = tree(tmp_path)
    refused(["eval", weights, csv, "--split", "all", "--out", out], "metrics.json: exists; pass --force")
    refused(["eval", weights, csv, "--out", Path(csv).parent], "contains the input")
    assert tree(tmp_path) == before
    assert main(["eval", str(weights), csv, "--split", "all", "--out", str(out), "--force"]) == 0


def test_export_and_report_never_onto_inputs(weights, csv, tmp_path, capsys):
    before = tree(Path(weights).parent)
    refused(["export", weights, "--onnx", weights, "--force"], "--onnx", "is the input")
    refused(["export", weights, "--onnx", weights.with_suffix(".json"), "--force"], "is the input")
    refused(["report", weights, csv, "--out", csv, "--force"], "is the input")
    mine = tmp_path/"r"/"report_files"; mine.mkdir(parents=True); (mine/"keep.txt").write_text("x")
    refused(["report", weights, csv, "--out", tmp_path/"r", "--force", "--n", "4"], "--out", "not written by lhc-fer")   # a folder of the user's
    assert tree(Path(weights).parent) == before and (mine/"keep.txt").exists()


def test_synth_and_demo_never_onto_user_files(tmp_path, capsys):
    (tmp_path/"fer.csv").write_text("mine")
    refused(["data", "synth", tmp_path/"fer.csv", "--n", "20"], "exists")
    assert (tmp_path/"fer.csv").read_text() == "mine"
    d = tmp_path/"demo"; d.mkdir(); (d/"notes.md").write_text("mine")
    refused(["demo", "--out", d, "--force", "--n", "20"], "was not written by lhc-fer")
    refused(["demo", "--out", tmp_path/"d2", "--n", "3"], "--n 3")
    assert (d/"notes.md").read_text() == "mine" and not (tmp_path/"d2").exists()


def test_bugs_are_one_line(monkeypatch, capsys):
    import lhc_fer.cli as cli
    monkeypatch.setitem(cli.COMMANDS, "boom", ("statistics:mean", "a command that fails"))
    monkeypatch.delenv("LHC_FER_DEBUG", raising=False)
    line = refused(["boom", "x"], "internal error (a bug in lhc-fer)", "LHC_FER_DEBUG=1", rc=1)
    assert "TypeError" in line


def test_sigterm_mid_predict_removes_the_temporaries(weights, photos, tmp_path):
    "SIGTERM while predict writes: exit 130, no output and no temporary file left."
    many = tmp_path/"many"; many.mkdir()
    for i in range(40): (many/f"{i:02d}.png").write_bytes((photos/"astronaut.png").read_bytes())
    out = tmp_path/"o"
    p = subprocess.Popen([str(Path(sys.executable).parent/"lhc-fer"), "predict", str(weights), str(many), "--bs", "1",
                          "--csv", str(out/"f.csv"), "--annotate", str(out/"ann")], stderr=subprocess.PIPE, text=True)
    wait_until(lambda: out.exists() and any(out.rglob(f"*{TMP_SUFFIX}*")))
    p.send_signal(signal.SIGTERM); err = p.communicate(timeout=120)[1]
    assert p.returncode == 130 and "interrupted" in err, err
    assert not out.exists() or not [q for q in out.rglob("*")], list(out.rglob("*"))


def test_odd_file_names_stay_one_line(weights, tmp_path, capsys):
    "A file name with a newline or bytes that are not UTF-8 is escaped in the one-line message."
    odd = tmp_path/"new\nline.png"; odd.write_bytes(b"not an image")
    refused(["predict", weights, odd], "new\\nline.png")
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.png"
    with open(raw, "wb") as f: f.write(b"not an image either")
    line = refused(["predict", weights, os.fsdecode(raw)], "caf\\")   # escaped (\\xe9 or \\udce9), printable
    line.encode("utf-8")
    loop = tmp_path/"loop"; loop.symlink_to(loop)
    refused(["predict", weights, loop], "loop")
