"The `lhc-fer` entry point as a user runs it: a subprocess, exit codes, one-line errors."
import json, subprocess, sys
from pathlib import Path
import pytest

LHC = str(Path(sys.executable).parent/"lhc-fer")

def run(*args, **kw):
    return subprocess.run([LHC, *args], capture_output=True, text=True, timeout=300, **kw)

def test_version():
    import lhc_fer
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"lhc-fer {lhc_fer.__version__}"

def test_help_lists_every_command():
    "Every registered command's first word is listed as a command of its own (a line starting with it), with its help."
    import re
    from lhc_fer.cli import COMMANDS
    r = run("--help")
    assert r.returncode == 0
    listed = set(re.findall(r"^    (\w+)\s", r.stdout, re.M))
    assert listed == {n.split()[0] for n in COMMANDS}, listed

def test_old_spelling_works_with_one_note(tmp_path):
    "predict --weights MODEL (the old spelling) still runs, with one deprecation line, the same as the model first."
    r = run("predict", str(tmp_path/"none.png"), "--weights", str(tmp_path/"model.safetensors"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 2 and "--weights is deprecated; give the model first" in lines[0], r.stderr
    assert "model.safetensors" in lines[1] and "no such" in lines[1]

def test_data_group_help():
    r = run("data", "--help")
    assert r.returncode == 0 and "check" in r.stdout and "synth" in r.stdout

def test_train_flags_generated_from_config():
    from dataclasses import fields
    from lhc_fer.config import Config, config_docs
    r = run("train", "--help")
    assert r.returncode == 0, r.stderr
    for f in fields(Config):
        assert "--" + f.name.replace("_", "-") in r.stdout, f.name
    assert config_docs()["label_smoothing"] in " ".join(r.stdout.split())

def test_invalid_config_key_is_one_line_exit_2(tmp_path):
    bad = tmp_path/"cfg.json"; bad.write_text(json.dumps({"bsz": 3}))
    r = run("train", str(tmp_path/"none.csv"), "--config", str(bad), "--out", str(tmp_path/"run"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "unknown Config key(s) ['bsz']" in r.stderr and "Traceback" not in r.stderr

def test_invalid_config_type_is_one_line_exit_2(tmp_path):
    r = run("train", str(tmp_path/"none.csv"), "--config", '{"lr": "fast"}', "--out", str(tmp_path/"run"))
    assert r.returncode == 2 and "Config.lr must be float" in r.stderr and "Traceback" not in r.stderr

def test_debug_shows_traceback(tmp_path):
    r = run("--debug", "train", str(tmp_path/"none.csv"), "--config", '{"bsz": 1}', "--out", str(tmp_path/"run"))
    assert r.returncode == 2 and "Traceback" in r.stderr

def test_unknown_benchmark():
    r = run("bench", "no_such_bench")
    assert r.returncode == 2 and "unknown benchmark" in r.stderr
