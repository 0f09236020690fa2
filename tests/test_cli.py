"""The `lhc-fer` entry point: the installed console script once (a subprocess), then `lhc_fer.cli.main` in-process
(`conftest.lhc`): exit codes, help, one-line errors."""
import json, re, subprocess, sys
from pathlib import Path
from conftest import lhc, one_line_error

LHC = str(Path(sys.executable).parent/"lhc-fer")

def test_version():
    "The installed console script runs in a fresh process and prints the package's version."
    import lhc_fer
    r = subprocess.run([LHC, "--version"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == f"lhc-fer {lhc_fer.__version__}"

def help_commands(text:str, metavar:str) -> dict:
    "The entries of the help's `metavar` section (argparse's subcommand list): {name: its help, wrapped lines joined}."
    lines = text.splitlines()
    start = lines.index(f"  {metavar}") + 1
    entries, name = {}, None
    for l in lines[start:]:
        if not l.strip(): break
        m = re.match(r"^    (\S+)(?:\s{2,}(.*))?$", l)
        if m: name = m.group(1); entries[name] = m.group(2) or ""
        else:
            assert name and re.match(r"^ {5,}\S", l), f"not an entry nor its continuation: {l!r}"
            entries[name] += " " + l.strip()
    return {k: " ".join(v.split()) for k, v in entries.items()}

def test_help_lists_every_command():
    "The help's command list is exactly the registry's top-level commands (groups once), each with its own help."
    from lhc_fer.cli import COMMANDS
    r = lhc("--help")
    assert r.returncode == 0 and r.stderr == ""
    listed = help_commands(r.stdout, "COMMAND")
    tops = {n.split()[0] for n in COMMANDS}
    assert set(listed) == tops, (set(listed) ^ tops)
    assert {"report", "study", "data", "train", "predict"} <= tops                          # none dropped from the registry
    for name, hlp in listed.items():
        want = COMMANDS[name][1] if name in COMMANDS else f"{name} tools"                  # "data": the group of data check/synth
        assert hlp == " ".join(want.split()), (name, hlp)

def test_old_spelling_works_with_one_note(tmp_path):
    "predict --weights MODEL (the old spelling) still runs, with one deprecation line, the same as the model first."
    r = lhc("predict", tmp_path/"none.png", "--weights", tmp_path/"model.safetensors")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 2 and "--weights is deprecated; give the model first" in lines[0], r.stderr
    assert "model.safetensors" in lines[1] and "no such" in lines[1] and "Traceback" not in r.stderr

def test_data_group_help():
    from lhc_fer.cli import COMMANDS
    r = lhc("data", "--help")
    assert r.returncode == 0
    assert help_commands(r.stdout, "SUBCOMMAND") == {n.split()[1]: COMMANDS[n][1] for n in COMMANDS if n.startswith("data ")}

def test_train_flags_generated_from_config():
    from dataclasses import fields
    from lhc_fer.config import Config, config_docs
    r = lhc("train", "--help")
    assert r.returncode == 0, r.stderr
    flags = set(re.findall(r"^  (--[\w-]+)", r.stdout, re.M))                              # the option lines' own flags
    for f in fields(Config):
        assert "--" + f.name.replace("_", "-") in flags, f.name
    assert config_docs()["label_smoothing"] in " ".join(r.stdout.split())

def test_invalid_config_key_is_one_line_exit_2(tmp_path):
    bad = tmp_path/"cfg.json"; bad.write_text(json.dumps({"bsz": 3}))
    r = lhc("train", tmp_path/"none.csv", "--config", bad, "--out", tmp_path/"run")
    one_line_error(r, "unknown Config key(s) ['bsz']")

def test_invalid_config_type_is_one_line_exit_2(tmp_path):
    r = lhc("train", tmp_path/"none.csv", "--config", '{"lr": "fast"}', "--out", tmp_path/"run")
    one_line_error(r, "Config.lr must be float")

def test_debug_shows_traceback(tmp_path):
    r = lhc("--debug", "train", tmp_path/"none.csv", "--config", '{"bsz": 1}', "--out", tmp_path/"run")
    assert r.returncode == 2 and "Traceback" in r.stderr and "unknown Config key(s) ['bsz']" in r.stderr

def test_unknown_benchmark():
    one_line_error(lhc("bench", "no_such_bench"), "unknown benchmark")
