"""optuna-dashboard on a study written by `lhc_fer.study.run_study` (its default SQLite storage STUDY/study.db, given as
sqlite:///STUDY/study.db: optuna-dashboard 0.21 refuses a bare .db path), opened in Debian's chromium: the study is
listed on the home page, and its trial list shows every trial."""
import time
import pytest
from conftest import BIN, SHOTS, Server, free_port, kernel_env


@pytest.fixture(scope="module")
def study(workdir):
    "A two-trial study of a tiny LHC-Net on synthetic faces; yields (study folder, optuna study)."
    from lhc_fer.config import Config
    from lhc_fer.study import run_study
    tiny = Config(img_size=16, width=0.125, heads=(1,) * 5, emb=(4,) * 5, epochs=1, bs=32)
    st = run_study("synthetic:70", workdir/"dash_study", {"lr": [1e-3, 1e-2]}, name="lhc_dash", cfg=tiny, echo=False)
    return workdir/"dash_study", st


@pytest.fixture(scope="module")
def dashboard(workdir, study):
    "`optuna-dashboard sqlite:///STUDY/study.db` on 127.0.0.1 and a free port, stopped by PID afterwards; yields its URL."
    port = free_port()
    srv = Server("optuna-dashboard", [str(BIN/"optuna-dashboard"), f"sqlite:///{study[0]/'study.db'}", "--host", "127.0.0.1",
                                      "--port", str(port)], kernel_env(workdir), workdir, workdir)
    try:
        srv.wait_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", srv
    finally: srv.stop()


def test_dashboard_lists_study_and_trials(browser, study, dashboard):
    url, srv = dashboard
    st = study[1]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.time()
    try:
        page.goto(f"{url}/dashboard/", wait_until="domcontentloaded", timeout=60_000)
        page.get_by_text("lhc_dash").first.wait_for(timeout=60_000)          # the home page lists the study
        page.screenshot(path=str(SHOTS/"dashboard-home.png"))
        page.goto(f"{url}/dashboard/studies/{st._study_id}/trials", wait_until="domcontentloaded", timeout=60_000)
        for t in st.trials:                                                            # one entry per trial
            page.get_by_text(f"Trial {t.number}", exact=False).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert f"{len(st.trials)} Trials" in body and body.count("Complete") >= len(st.trials)
        assert st.trials[0].user_attrs["run_folder"] in body                           # the trial's run folder, shown
        page.screenshot(path=str(SHOTS/"dashboard-trials.png"))
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(SHOTS/"dashboard-failure.png")); print(srv.tail())
        raise
    finally:
        print(f"dashboard: {time.time() - t0:.1f} s"); page.close()
