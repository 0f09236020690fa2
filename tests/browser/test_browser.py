"""Real-browser tests of the attention explorer: in JupyterLab (open the app notebook, Run All, move a slider) and as
the `lhc-fer explore` Voila app (slider, model view, side-by-side compare); and the standalone HTML report opened from
disk with the network blocked. Element screenshots go to outputs/browser/."""
import re, time
from contextlib import contextmanager
import pytest
from conftest import SHOTS

WIDGET_TIMEOUT = 100_000  # ms: a cold kernel imports torch/fastai and builds the model before the widgets appear
IMG = ".lhc-explorer .widget-output img"


def _collect(page):
    "Record page errors and console errors of `page`."
    errs = {"page": [], "console": []}
    page.on("pageerror", lambda e: errs["page"].append(str(e)))
    page.on("console", lambda m: errs["console"].append(m.text) if m.type == "error" else None)
    return errs


@contextmanager
def _timed_shot_on_failure(page, srv, name):
    "Yield the start time; print the time taken; on a failure also screenshot the page (NAME-failure.png) and print the server's log."
    t0 = time.time()
    try: yield t0
    except Exception:
        page.screenshot(path=str(SHOTS / f"{name}-failure.png"))
        print(srv.tail())
        raise
    finally: print(f"{name}: {time.time() - t0:.1f} s")


def _move_slider(page, shot):
    "Focus the explorer's image slider, press ArrowRight, and return the plot's `src` before and after."
    img = page.locator(IMG).first
    before = img.get_attribute("src")
    page.locator(".lhc-explorer").first.screenshot(path=str(SHOTS / f"{shot}-before.png"))
    info = "() => [...document.querySelectorAll('.lhc-explorer .widget-html')].map(e => e.innerText).find(t => /drawn in/.test(t)) || ''"
    old_info = page.evaluate(info)
    handle = page.locator(".lhc-explorer .widget-slider .noUi-handle").first
    handle.focus(); handle.press("ArrowRight")
    page.wait_for_function("([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
                           arg=[IMG, before], timeout=30_000)
    # the status line is the last thing a redraw updates: once it changed, every panel shows the new image
    page.wait_for_function(f"([old]) => {{ const t = ({info})(); return t && t !== old; }}", arg=[old_info], timeout=30_000)
    after = page.locator(IMG).first.get_attribute("src")
    page.locator(".lhc-explorer").first.screenshot(path=str(SHOTS / f"{shot}.png"))
    return before, after


def _no_traceback(page):
    "Text of every output area (JupyterLab) or the whole page (Voila) has no Python traceback."
    text = page.locator("body").inner_text()
    assert "Traceback (most recent call last)" not in text, text[-3000:]
    assert not re.search(r"\b\w+Error: ", page.locator(".lhc-explorer").first.inner_text())


def test_jupyterlab_run_all_and_slider(voila, lab, browser, voila_page):
    url, token, nb, srv = lab
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errs = _collect(page)
    try:
        with _timed_shot_on_failure(page, srv, "jupyterlab") as t0:
            page.goto(f"{url}/lab/tree/{nb}?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            idle = "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /Idle/.test(e.textContent))"
            page.wait_for_function(idle, timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator('[data-command="runmenu:run-all"]').click()
            page.wait_for_selector(IMG, timeout=WIDGET_TIMEOUT)
            print(f"jupyterlab: explorer drawn after {time.time() - t0:.1f} s")
            page.wait_for_function(idle, timeout=60_000)
            before, after = _move_slider(page, "jupyterlab-explorer")
            assert before.startswith("data:image/png") and after.startswith("data:image/png") and before != after
            _no_traceback(page)
            stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
            assert not stderr, stderr                                # no error, and no warning either
            assert not errs["page"], errs["page"]
    finally: page.close()


def test_voila_app_slider(voila_page):
    page, errs, srv = voila_page
    with _timed_shot_on_failure(page, srv, "voila"):
        page.wait_for_selector(IMG, timeout=WIDGET_TIMEOUT)
        before, after = _move_slider(page, "voila-explorer")
        assert before.startswith("data:image/png") and after.startswith("data:image/png") and before != after
        _no_traceback(page)
        assert not errs["page"], errs["page"]
        unexpected = [e for e in errs["console"] if not re.search(r"font|ERR_NAME_NOT_RESOLVED|ERR_INTERNET|net::", e, re.I)]
        assert not unexpected, unexpected                       # only the unreachable font CDN may fail


def _natural_widths(page, sel):
    "naturalWidth of every <img> matched by `sel` (0: not decoded)."
    return page.evaluate("(sel) => [...document.querySelectorAll(sel)].map(i => i.complete ? i.naturalWidth : 0)", sel)


def _visible_imgs(sel):
    "JS predicate: some <img> under `sel` is decoded and visible."
    return f"() => [...document.querySelectorAll('{sel} img')].some(i => i.complete && i.naturalWidth > 0 && i.offsetParent !== null)"


def test_voila_model_view_and_compare(voila_page):
    "After the slider test, on the same page: the model view tab draws every head, 'open' jumps to one head in the head view, and compare shows the host beside LHC-Net."
    page, errs, srv = voila_page
    with _timed_shot_on_failure(page, srv, "voila-views"):
        page.wait_for_selector(IMG, timeout=WIDGET_TIMEOUT)
        page.locator(".lhc-explorer .lm-TabBar-tab", has_text="model view").click()
        page.wait_for_function(_visible_imgs(".lhc-model-view"), timeout=60_000)
        assert [w for w in _natural_widths(page, ".lhc-model-view img") if w > 0], "model view image not decoded"
        page.locator(".lhc-model-view").first.screenshot(path=str(SHOTS / "voila-model-view.png"))
        opts = page.eval_on_selector_all(".lhc-open select option", "os => os.map(o => o.textContent.replace(/\\u00a0/g, ' '))")   # ipywidgets shows spaces as no-break spaces
        assert len(opts) == 1 + 33, opts                          # the app's model: 8+8+8+8+1 heads, after the blank choice
        module, head = opts[10].split(" · head ")                 # stage1.lhc · head 1
        page.locator(".lhc-open select").select_option(index=10)
        page.wait_for_function("(m) => document.querySelector('.lhc-module select').value !== undefined && "
                               "[...document.querySelectorAll('.lhc-module select option')].find(o => o.selected).textContent === m",
                               arg=module, timeout=30_000)
        page.wait_for_function("(h) => [...document.querySelectorAll('.lhc-head select option')].find(o => o.selected).textContent === h",
                               arg=head, timeout=30_000)
        page.wait_for_function(_visible_imgs(".lhc-explorer .widget-output"), timeout=30_000)   # back on the head view
        page.locator(".lhc-explorer .lm-TabBar-tab", has_text="compare").click()
        page.locator(".lhc-overlay select").select_option("saliency")
        page.wait_for_function("() => [...document.querySelectorAll('.lhc-compare img')].filter(i => i.complete && i.naturalWidth > 0).length >= 4",
                               timeout=60_000)                    # LHC-Net's and the host's saliency, their difference, LHC-Net's attention
        text = page.locator(".lhc-compare").first.inner_text()
        assert "no LHC modules" in text and "LHC-Net" in text and "host" in text, text
        page.locator(".lhc-explorer").first.screenshot(path=str(SHOTS / "voila-compare.png"))
        _no_traceback(page)
        assert not errs["page"], errs["page"]


def test_report_opens_offline(browser, report_html):
    "The HTML report from disk, every request off the file itself refused: each figure decodes (naturalWidth > 0)."
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errs, asked = _collect(page), []
    page.route(re.compile(r"^(?!file:|data:)"), lambda r: (asked.append(r.request.url), r.abort()))
    try:
        page.goto(report_html.as_uri(), wait_until="load")
        widths = _natural_widths(page, "img")
        pngs = sorted((report_html.parent / "report_files").glob("*.png"))
        assert len(widths) == len(pngs) >= 8 and all(w > 0 for w in widths), widths
        assert page.locator("h2").all_inner_texts()[:3] == ["Evaluation", "Training curves", "Model view"]
        assert not asked, asked                                    # nothing fetched from elsewhere
        assert not errs["page"] and not errs["console"], errs
        page.screenshot(path=str(SHOTS / "report.png"), full_page=False)
    finally: page.close()
