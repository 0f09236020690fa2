"""`lhc-fer report` end to end (in-process `lhc_fer.cli.main`): a tiny trained run (16 px inputs, a quarter-width host,
one LHC head per module, 70 synthetic faces) becomes one standalone HTML file, with every figure also written
beside it as PNG and SVG; an existing report is never overwritten without --force."""
import base64, re
import numpy as np
import pytest, torch
from lhc_fer import cli
from lhc_fer.cli import main

SECTIONS = ["Evaluation", "Training curves", "Model view", "Attention statistics", "Head importance per class",
            "Faithfulness of explanations", "Sanity check: parameter randomization"]

@pytest.fixture(scope="module", autouse=True)
def registry():
    "The `report` subcommand, registered for these tests while the CLI's registry does not list it yet."
    with pytest.MonkeyPatch.context() as mp:
        if "report" not in cli.COMMANDS:
            mp.setitem(cli.COMMANDS, "report", ("lhc_fer.report:cli_report", "write a standalone HTML report of a run"))
        yield

@pytest.fixture(scope="module")
def run(trained_run):
    "The session's tiny trained run (`conftest.trained_run`: fast recipe, one epoch a stage); the report only reads it."
    return trained_run

@pytest.fixture(scope="module")
def report(registry, run, csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")                                     # --out is a folder: report.html and report_files/
    assert main(["report", str(run), csv, "--out", str(out), "--n", "12"]) == 0
    return out/"report.html"

def _predictions(run, csv):
    "Test-split predictions and labels of the run's final model, computed here without lhc_fer.evaluate."
    from lhc_fer.loaders import load_fer
    from lhc_fer.checkpoint import load_model
    te = load_fer(csv).subset("test")
    m = load_model(run/"model.safetensors").eval()
    with torch.no_grad(): pred = m(torch.from_numpy(te.images).float()[:, None]).argmax(1).numpy()
    return pred, np.asarray(te.labels)

def test_every_section_and_figure(report, run, csv):
    page = report.read_text()
    assert re.findall(r"<h2>(.*?)</h2>", page) == SECTIONS
    assert "left out" not in page, re.findall(r'class="note">(.*?)</p>', page)
    files = report.parent/"report_files"
    pngs, svgs = sorted(files.glob("*.png")), sorted(files.glob("*.svg"))
    assert {p.stem for p in pngs} == {"confusion", "history", "face", "model_view", "head_class_entropy", "entropy_distribution",
                                      "class_head_importance", "faithfulness", "randomization"}
    assert [p.stem for p in svgs] == [p.stem for p in pngs] and all(b"<svg" in p.read_bytes() for p in svgs)
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert sorted(base64.b64decode(s.split(",", 1)[1]) for s in srcs) == sorted(p.read_bytes() for p in pngs)
    # standalone: no reference to any other file or server, no script or stylesheet to fetch
    assert re.findall(r'(?:src|href)="(?!data:)[^"]*"', page) + re.findall(r"<script|<link|@import|url\(", page) == []

def test_numbers_match_the_model(report, run, csv):
    page = report.read_text()
    pred, y = _predictions(run, csv)
    assert f"accuracy <b>{(pred == y).mean():.3f}</b>" in page
    i, true, got = re.search(r"test face (\d+): true <b>(\w+)</b>, predicted <b>(\w+)</b>", page).groups()
    i = int(i)
    if (pred == y).any():                                 # the model view shows the first face it gets right
        assert true == got and i == int(np.flatnonzero(pred == y)[0])
    else: assert i == 0 and "no face of this split is predicted correctly" in page

@pytest.mark.slow
def test_never_overwritten(report, run, csv, capsys):
    before = report.stat().st_mtime_ns, (report.parent/"report_files"/"model_view.png").read_bytes()
    capsys.readouterr()
    assert main(["report", str(run), csv, "--out", str(report.parent), "--n", "12"]) == 2
    err = capsys.readouterr().err
    assert "exists and is not empty; pass --force" in err and err.count("\n") == 1
    assert (report.stat().st_mtime_ns, (report.parent/"report_files"/"model_view.png").read_bytes()) == before
    (report.parent/"report_files"/"stale.png").write_bytes(b"old")
    assert main(["report", str(run), csv, "--out", str(report.parent), "--n", "4", "--force"]) == 0
    assert report.stat().st_mtime_ns != before[0] and not (report.parent/"report_files"/"stale.png").exists()
    assert [p.name for p in report.parent.iterdir() if p.name.startswith(".")] == [".lhc-fer"]   # the kit's marker; no temporary file left

def test_bad_run_is_one_line(csv, tmp_path, capsys):
    assert main(["report", str(tmp_path/"nope"), csv, "--out", str(tmp_path/"r")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and err.count("\n") == 1 and not (tmp_path/"r").exists()


def test_study_page(tmp_path, capsys):
    "lhc-fer report STUDY: one page with the trials table (one row per trial), the figures, and links to trial reports."
    import re
    from lhc_fer.cli import main
    st = tmp_path/"st"
    tiny = ["--img-size", "16", "--width", "0.125", "--epochs", "1", "--heads", "1", "1", "1", "1", "1", "--emb", "4", "4", "4", "4", "4"]
    assert main(["study", "synthetic:140", "--out", str(st), "--space", "recipe", "--trials", "2", *tiny]) == 0
    assert main(["report", str(st/"trials"/"0000"), "synthetic:70", "--out", str(st/"trials"/"0000"/"report"), "--n", "4"]) == 0
    assert main(["report", str(st), "--out", str(tmp_path/"page")]) == 0
    page = (tmp_path/"page"/"study.html").read_text()
    rows = re.findall(r"<tr>\s*<th>\d+</th>", page)
    assert len(rows) == 2, rows                                                   # one row per trial
    assert page.count('href="../st/trials/0000/report/report.html"') == 1         # the trial that has a report is linked
    assert {p.name for p in (tmp_path/"page"/"study_files").glob("*.png")} >= {"history.png", "parallel.png", "importance.png"}
    capsys.readouterr()
    assert main(["report", str(st), "--out", str(tmp_path/"page")]) == 2            # never replaced without --force
    assert "pass --force" in capsys.readouterr().err

def test_missing_split_writes_nothing(run, tmp_path, capsys):
    "The data is checked before --out is created: a split the data lacks is one line, and no folder appears."
    assert main(["report", str(run), "synthetic:14", "--out", str(tmp_path/"r"), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert "no 'test' faces; splits present: ['train']" in err and err.count("\n") == 1 and not (tmp_path/"r").exists()
