"""Optuna studies (`lhc_fer.study`): spaces checked against Config, the paper's grid covered, pruning, failing trials,
storage and name errors as one line, and SIGKILLed workers whose trial resumes its own run folder on SQLite, the journal
file backend and a real PostgreSQL server (Debian's PostgreSQL 15, started for the session)."""
import glob, json, math, os, shutil, signal, subprocess, tempfile, threading, time
from pathlib import Path
import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState
from safetensors.torch import load_file
import lhc_fer.cli as cli
import lhc_fer.study as S
from lhc_fer.config import Config, LhcFerError
from lhc_fer.loaders import load_fer
from lhc_fer.lhc import valid_heads
from lhc_fer.models import lhc_places
from lhc_fer.train import train_fast
from conftest import free_port

TINY = Config(img_size=16, width=0.125, heads=(1,) * 5, emb=(4,) * 5, epochs=2, bs=32)
KILL = Config(img_size=48, width=0.125, heads=(1,) * 5, emb=(4,) * 5, epochs=4, bs=32)   # a few seconds a trial
LRS = [1e-3, 3e-3, 1e-2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(autouse=True)
def one_thread():
    "One torch thread: tiny models are fastest so, and the in-process reference run matches the workers' arithmetic."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _traversable(p:Path) -> bool: return all(os.stat(q).st_mode & 0o001 for q in [p, *p.parents])


@pytest.fixture(scope="session")
def postgres():
    "A real PostgreSQL 15 server on 127.0.0.1 for the session (as the postgres user when run as root); yields a URL."
    tools = [PG_BIN/t for t in ("initdb", "pg_ctl", "createdb")]
    if not all(t.exists() for t in tools):
        pytest.skip(f"PostgreSQL 15 server binaries missing in {PG_BIN} (apt-get install postgresql)")
    initdb, pg_ctl, createdb = map(str, tools)
    base = Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="lhc_fer_pg_", dir=base if _traversable(base) else "/tmp"))  # the server must reach it
    root.chmod(0o755); data = root/"data"; data.mkdir()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []          # initdb refuses root
    if as_pg: shutil.chown(data, "postgres", "postgres")
    port, run = free_port(), lambda cmd: subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    run(as_pg + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres"])
    run(as_pg + [pg_ctl, "-D", str(data), "-l", str(data/"server.log"), "-o",
                 f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "-w", "start"])
    try:
        run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "lhc_fer_test"])
        yield f"postgresql://postgres:not-a-secret@127.0.0.1:{port}/lhc_fer_test"       # trust: the password is unused
    finally:
        subprocess.run(as_pg + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def study_cli():
    "Run `lhc-fer` in-process with the words of the registry entry whose function is `lhc_fer.study.FN`."
    words = {target.split(":")[1]: name.split() for name, (target, _) in cli.COMMANDS.items() if target.startswith("lhc_fer.study:")}
    assert {"cli_study", "cli_study_show"} <= set(words), f"the CLI registry lacks the study commands: {words}"
    return lambda fn, *args: cli.main([*words[fn], *map(str, args)])


TINY_FLAGS = ["--img-size", "16", "--width", "0.125", "--heads", *"11111", "--emb", *"44444", "--epochs", "1", "--bs", "32"]


# -- spaces ----------------------------------------------------------------------------------------------------------

def test_space_checked_against_config(tmp_path):
    d = S.load_space({"lr": (1e-4, 1e-2, "log"), "heads": [[8, 8, 7, 7, 1], [4, 4, 4, 3, 1]], "kernel_size": [1, 3, 5]})
    assert isinstance(d["lr"], optuna.distributions.FloatDistribution) and d["lr"].log and (d["lr"].low, d["lr"].high) == (1e-4, 1e-2)
    assert d["heads"].choices == ("8,8,7,7,1", "4,4,4,3,1") and d["kernel_size"].choices == (1, 3, 5)
    lo, hi, _ = Config.__dataclass_fields__["lr"].metadata["range"]
    for bad, msg in [({"lrr": [1e-3]}, "unknown key 'lrr'"), ({"lr": (lo / 10, 1e-2)}, "outside Config.lr's declared range"),
                     ({"heads": (1, 8)}, "takes a list of choices"), ({"kernel_size": [2]}, "expected one of 1, 3, 5"),
                     ({"heads": [[8, 8]]}, "a list of 5 values"), ({"bs": (8, 1024, 8)}, "declared range")]:
        with pytest.raises(LhcFerError, match=msg) as e: S.load_space(bad)
        assert "\n" not in str(e.value)
    p = tmp_path/"space.json"; p.write_text('{"lr": {"low": 0.0001, "high": 0.01, "log": true},\n "bs": [32, 64,]}')
    with pytest.raises(LhcFerError, match=rf"{p}:2: not valid JSON"): S.load_space(p)
    p.write_text('{"lr": {"low": 0.0001, "high": 0.01, "log": true}, "bs": [32, 64]}')
    assert S.load_space(p)["bs"].choices == (32, 64)
    got = S.space_from_config(["lr", "bs"])
    meta = {k: Config.__dataclass_fields__[k].metadata for k in ("lr", "bs")}
    assert (got["lr"].low, got["lr"].high, got["lr"].log) == (*meta["lr"]["range"][:2], True)
    assert (got["bs"].low, got["bs"].high, got["bs"].step) == meta["bs"]["range"]


def test_unknown_space_key_refused_by_cli(tmp_path, capsys, study_cli):
    p = tmp_path/"space.json"; p.write_text(json.dumps({"lr": [1e-3], "depth": [2, 3]}))
    assert study_cli("cli_study", "synthetic:70", "--out", tmp_path/"s", "--space", p, *TINY_FLAGS) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'depth'" in err and str(p) in err and "Traceback" not in err
    assert not (tmp_path/"s").exists()


def _nearest(h, hw): return min((d for d in range(1, hw + 1) if hw % d == 0), key=lambda d: (abs(d - h), d))


def test_grid_covers_paper_grid(tmp_path, capsys):
    out = tmp_path/"abl"
    study = S.run_study("synthetic:70", out, "paper_ablation", cfg=TINY.replace(epochs=1))
    # the expected grid, from the preset and each place's H*W (independent of the study code)
    hw = [H * W for _, H, W in lhc_places(16, 0.125).values()]
    pre = S.SPACES["paper_ablation"]
    heads = {",".join(str(_nearest(h, n)) for h, n in zip(hs, hw)) for hs in pre["heads"]}
    want = {(h, ",".join(map(str, e)), k, c) for h in heads for e in pre["emb"] for k in pre["kernel_size"]
            for c in pre["controller_stage"]}
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    got = [(t.params["heads"], t.params["emb"], t.params["kernel_size"], t.params["controller_stage"]) for t in done]
    assert len(want) == 16 and len(got) == len(study.trials) == 16 and set(got) == want
    for t in done:                                          # each trial is an ordinary run folder with its own Config
        f = Path(t.user_attrs["run_folder"])
        assert f == out/"trials"/f"{t.number:04d}"
        rc = json.loads((f/"config.json").read_text())
        assert ",".join(map(str, rc["heads"])) == t.params["heads"] and rc["kernel_size"] == t.params["kernel_size"]
        assert (f/"controller"/"model.safetensors").exists() == t.params["controller_stage"]
        sj = json.loads((f/"study.json").read_text())
        assert (sj["study"], sj["trial"], sj["params"]) == ("abl", t.number, t.params)
        final = json.loads((f/("controller" if t.params["controller_stage"] else "lhc")/"metrics.json").read_text())
        assert t.value == pytest.approx(final["accuracy"])
    capsys.readouterr()
    again = S.run_study("synthetic:70", out, "paper_ablation", cfg=TINY.replace(epochs=1))   # done: nothing more to run
    assert len(again.trials) == 16 and "trial " not in capsys.readouterr().out
    df = S.study_table(again)
    assert list(df.columns[:6]) == ["trial", "state", "heads", "emb", "kernel_size", "controller_stage"]
    assert (df.state == "complete").all() and (df.epochs == [len(t.intermediate_values) for t in done]).all()
    for fig in (S.plot_optimization_history(again), S.plot_parallel_coordinates(again), S.plot_param_importances(again)):
        assert fig.axes
    assert len(S.plot_optimization_history(again).axes[0].collections[0].get_offsets()) == 16


def test_failing_trial_marked_failed_and_study_goes_on(tmp_path, capsys):
    space = {"heads": [[1] * 5, [2] * 5], "img_size": [16]}         # heads 2 do not divide 1x1 at stage3: train refuses
    study = S.run_study("synthetic:70", tmp_path/"s", space, cfg=TINY)
    by = {t.params["heads"]: t for t in study.trials}
    assert by["1,1,1,1,1"].state == TrialState.COMPLETE and by["2,2,2,2,2"].state == TrialState.FAIL
    why = by["2,2,2,2,2"].user_attrs["failure"]
    assert "heads" in why and "\n" not in why
    df = S.study_table(study).set_index("heads")
    assert df.loc["2,2,2,2,2", "failure"] == why and df.loc["1,1,1,1,1", "failure"] == ""
    out = capsys.readouterr()
    assert f"trial {by['2,2,2,2,2'].number} fail" in out.out and "Traceback" not in out.out + out.err


def test_pruning_prunes_on_a_seeded_study(tmp_path):
    study = S.run_study("synthetic:140", tmp_path/"p", {"lr": (1e-5, 1e-1, "log")}, n_trials=8, pruner="median",
                        seed=0, cfg=TINY.replace(epochs=4), echo=False)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and len(study.trials) == 8
    for t in pruned:                                       # MedianPruner's rule, checked from the stored reports
        step = t.last_step
        ref = [u.intermediate_values[step] for u in study.trials
               if u.state == TrialState.COMPLETE and u.number < t.number and step in u.intermediate_values]
        assert step >= 1 and len(ref) >= 3
        assert max(v for s, v in t.intermediate_values.items() if s <= step) < np.percentile(ref, 50)
    assert any(len(t.intermediate_values) < 5 for t in pruned)     # some stopped before their 4 + 1 epochs


# -- storages and names ----------------------------------------------------------------------------------------------

def test_unreachable_storage_is_one_line(tmp_path, capsys, study_cli):
    port, out = free_port(), tmp_path/"s"
    rc = study_cli("cli_study", "synthetic:70", "--out", out, "--storage", f"postgresql://me:hunter2@127.0.0.1:{port}/db", *TINY_FLAGS)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and f"127.0.0.1:{port}" in err and "cannot connect" in err
    assert "hunter2" not in err and "Traceback" not in err and not out.exists()


def test_name_clash_refused(tmp_path, capsys, study_cli):
    log = tmp_path/"shared.log"
    a = S.run_study("synthetic:70", tmp_path/"a", {"lr": [1e-3]}, storage=str(log), name="abl", cfg=TINY, echo=False)
    assert len(a.trials) == 1
    with pytest.raises(LhcFerError, match="study 'abl' exists with another space .*continue it with the same space.*another --name") as e:
        S.run_study("synthetic:70", tmp_path/"b", {"lr": [1e-2]}, storage=str(log), name="abl", cfg=TINY)
    with pytest.raises(LhcFerError, match="another data"):
        S.run_study("synthetic:80", tmp_path/"b", {"lr": [1e-3]}, storage=str(log), name="abl", cfg=TINY)
    assert "\n" not in str(e.value) and not (tmp_path/"b"/"trials").exists()
    assert study_cli("cli_study", "synthetic:70", "--out", tmp_path/"a", "--name", "other", *TINY_FLAGS) == 2
    err = capsys.readouterr().err
    assert "holds study 'abl'" in err and "--name abl" in err


def test_cli_study_and_show(tmp_path, capsys, study_cli):
    p = tmp_path/"space.json"; p.write_text(json.dumps({"lr": [1e-3, 1e-2]}))
    out = tmp_path/"s"
    assert study_cli("cli_study", "synthetic:70", "--out", out, "--space", p, "--pruner", "none", *TINY_FLAGS) == 0
    run = capsys.readouterr().out
    st = optuna.load_study(study_name="s", storage=f"sqlite:///{out/'study.db'}")
    best = st.best_trial
    assert f"best: trial {best.number} accuracy {best.value:.4f}" in run and str(out/"trials"/f"{best.number:04d}") in run
    assert study_cli("cli_study_show", out) == 0
    show = capsys.readouterr().out
    assert f"best run folder: {best.user_attrs['run_folder']}" in show
    rows = [l.split() for l in show.splitlines() if l.split()[:1] in (["0"], ["1"])]
    assert sorted(int(r[0]) for r in rows) == [0, 1] and all(r[1] == "complete" for r in rows)


def test_monitor_refreshes(tmp_path):
    study = S.run_study("synthetic:70", tmp_path/"m", {"lr": [1e-3]}, cfg=TINY, echo=False)
    mon = S.StudyMonitor(study, every=0.2)
    try:
        assert "1 finished" in mon.status.value and "<td>0</td>" in mon.table.value and mon.plot.value[:4] == b"\x89PNG"
        d = optuna.distributions.CategoricalDistribution([1e-3])     # as a second worker would store it
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": d}, value=0.5))
        t0 = time.time()
        while "2 finished" not in mon.status.value and time.time() - t0 < 10: time.sleep(0.1)
        assert "2 finished" in mon.status.value and "<td>1</td>" in mon.table.value
    finally: mon.close()
    assert mon._thread is None


# -- killed workers --------------------------------------------------------------------------------------------------

def _kill_mid_trial(out:Path, run, timeout=180):
    "Run `run` in a thread; SIGKILL the worker holding the first trial folder that has a resume checkpoint."
    res, killed = {}, None
    def go():
        try: res["study"] = run()
        except BaseException as e: res["error"] = e
    th = threading.Thread(target=go); th.start(); t0 = time.time()
    while th.is_alive() and killed is None and time.time() - t0 < timeout:
        ck = glob.glob(str(out/"trials"/"*"/"host"/"resume"/"epoch_*.safetensors"))
        if ck:
            folder = Path(ck[0].split("/host/")[0])
            pid = int((folder/".lock").read_text().strip())
            os.kill(pid, signal.SIGKILL); killed = (folder, pid)
        time.sleep(0.02)
    th.join(timeout)
    assert "error" not in res, res.get("error")
    return res["study"], killed


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgres"])
def test_killed_worker_trial_resumes(kind, tmp_path, request, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    storage = {"sqlite": None, "journal": f"journal:{tmp_path/'study.log'}"}.get(kind) or request.getfixturevalue("postgres")
    out = tmp_path/"study"
    study, killed = _kill_mid_trial(out, lambda: S.run_study(
        "synthetic:140", out, {"lr": LRS}, storage=storage, name=f"kill_{kind}", cfg=KILL, workers=2, pruner="none",
        heartbeat_interval=1, grace_period=2, echo=False))
    assert killed is not None, "no trial reached its first checkpoint"
    trials = study.trials
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.FAIL}
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["lr"] for t in done) == LRS                       # none lost, none run twice
    assert len({t.user_attrs["run_folder"] for t in done}) == 3
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [Path(t.user_attrs["run_folder"]) for t in failed] == [killed[0]]
    retry = [t for t in done if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retry) == 1 and Path(retry[0].user_attrs["run_folder"]) == killed[0] and retry[0].user_attrs["resumed"]
    assert retry[0].params == failed[0].params
    sj = json.loads((killed[0]/"study.json").read_text())
    assert (sj["trial"], sj["retry_of"]) == (retry[0].number, failed[0].number) and "not-a-secret" not in json.dumps(sj)
    assert "not-a-secret" not in (out/"study.json").read_text()
    ref = train_fast(load_fer("synthetic:140"), tmp_path/"ref", KILL.replace(lr=failed[0].params["lr"]))  # never killed
    wa, wb = load_file(str(tmp_path/"ref"/"model.safetensors")), load_file(str(killed[0]/"model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)        # bit-identical after the resume
    assert retry[0].value == pytest.approx(ref["lhc"]["accuracy"])


# -- the attention variants (last: they need train_fast to build Config.attention) -------------------------------------

def test_attention_variants(tmp_path):
    import lhc_fer.models as M, lhc_fer.train as T
    if not hasattr(M, "attention_from_host") or "attention_from_host" not in Path(T.__file__).read_text():
        pytest.skip("train_fast does not build the Config.attention variants (models.attention_from_host) yet")
    space = {"attention": list(S.SPACES["attention"]["attention"]), "seed": [0]}
    study = S.run_study("synthetic:70", tmp_path/"att", space, cfg=TINY, echo=False)
    done = {t.params["attention"]: t for t in study.trials if t.state == TrialState.COMPLETE}
    assert set(done) == set(space["attention"])
    keys = {a: frozenset(load_file(str(Path(t.user_attrs["run_folder"])/"model.safetensors"))) for a, t in done.items()}
    assert len(set(keys.values())) == len(keys)               # every variant is another network on the same host
    fig = S.plot_variants(study)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [a for a in S.SPACES["attention"]["attention"] if a in done]
