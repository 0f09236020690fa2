"""Real-browser tests of the attention explorer: in JupyterLab (open the app notebook, Run All, move a slider) and as
the `lhc-fer explore RUN` Voila app of a run folder (slider, model view, LHC-Net beside the run's host, figures that
fill a 1400 px window, the synthetic-faces warning on an uploaded photo, refused without its token, no kernel left
behind by a closed page); and the standalone HTML report opened from disk with the network blocked. Screenshots go
to outputs/browser/."""
import json, re, secrets, time, urllib.error, urllib.parse, urllib.request
from contextlib import contextmanager
import pytest
from conftest import SHOTS, TINY_TEXT, printed_url

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


def test_voila_model_view_and_compare(voila_page, run_dir):
    "After the slider test, on the same page: the model view tab draws every head, 'open' jumps to one head in the head view, and compare shows the run's host beside LHC-Net."
    page, errs, srv = voila_page
    said = srv.wait_log(r"lhc-fer explore: (\S+) beside its host (\S+)\n", timeout=5)
    assert said.groups() == (str((run_dir / "model.safetensors").resolve()), str((run_dir / "host" / "model.safetensors").resolve())), said.group(0)
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


def _shown(page, sel):
    "[rendered width, natural width] of every decoded, visible <img> under `sel`."
    return page.evaluate("(sel) => [...document.querySelectorAll(sel + ' img')].filter(i => i.complete && i.naturalWidth > 0 && "
                         "i.offsetParent !== null).map(i => [i.getBoundingClientRect().width, i.naturalWidth])", sel)


def _tab(page, title):
    "Open the explorer's tab `title` and wait until it is drawn (the status line names the view it drew)."
    page.locator(".lhc-explorer .lm-TabBar-tab", has_text=title).click()
    page.wait_for_function("(t) => [...document.querySelectorAll('.lhc-explorer .widget-html')].some(e => e.innerText.includes(t))",
                           arg=f"· {title} drawn in", timeout=30_000)


def _full_page_shot(page, path):
    "Screenshot the whole app: Voila's page scrolls inside a container, so the window is made as tall as its content first."
    size = page.viewport_size
    h = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], h)})
    try: page.screenshot(path=str(path), full_page=True)
    finally: page.set_viewport_size(size)


def test_voila_figures_fill_the_page(voila_page):
    "At a 1400 px wide window the C×C heatmaps are drawn over 400 px wide, in the head view and the compare tab, from PNGs at least 600 px wide (sharp at that size), the faces beside them at least 300 px; full-page screenshots of both."
    page, errs, srv = voila_page
    with _timed_shot_on_failure(page, srv, "voila-size"):
        page.wait_for_selector(IMG, state="attached", timeout=WIDGET_TIMEOUT)
        assert page.viewport_size["width"] == 1400
        _tab(page, "head view")
        page.wait_for_function(_visible_imgs(".lhc-explorer .lhc-heat"), timeout=30_000)
        heat, faces = _shown(page, ".lhc-explorer .lhc-heat"), _shown(page, ".lhc-explorer .lhc-panel:not(.lhc-heat)")
        _full_page_shot(page, SHOTS / "explorer-1400.png")
        print(f"head view at 1400 px: heatmap {heat}, faces {faces} ([shown, PNG] px)")
        assert len(heat) == 1 and heat[0][0] > 400 and heat[0][1] >= 600, heat
        assert len(faces) == 2 and all(w >= 300 for w, _ in faces), faces
        _tab(page, "compare")
        page.wait_for_function(_visible_imgs(".lhc-compare .lhc-heat"), timeout=30_000)
        cheat = _shown(page, ".lhc-compare .lhc-heat")                 # LHC-Net's; the host has no attention to draw
        _full_page_shot(page, SHOTS / "explorer-1400-compare.png")
        print(f"compare at 1400 px: heatmap {cheat}")
        assert len(cheat) == 1 and cheat[0][0] > 400 and cheat[0][1] >= 600, cheat
        _tab(page, "head view")
        assert not errs["page"], errs["page"]


def test_voila_photo_warns_once(voila_page, workdir):
    "An uploaded photo explored with a model whose run was trained on synthetic faces: one warning line in the page, the same line once in the terminal of `lhc-fer explore` (its log here); back on the dataset's synthetic faces the line goes."
    from PIL import Image
    from skimage.data import astronaut
    page, errs, srv = voila_page
    photo = workdir / "astronaut.png"; Image.fromarray(astronaut()).save(photo)
    warning = "() => (document.querySelector('.lhc-explorer .lhc-warning') || {}).innerText || ''"
    with _timed_shot_on_failure(page, srv, "voila-photo"):
        page.wait_for_selector(IMG, state="attached", timeout=WIDGET_TIMEOUT)
        assert page.evaluate(warning) == "" and "trained on synthetic faces" not in srv.tail(1_000_000)
        with page.expect_file_chooser() as chooser:                    # ipywidgets' file input is not in the page: its button clicks it
            page.locator(".lhc-explorer .widget-upload").click()
        chooser.value.set_files(str(photo))
        page.wait_for_function(f"() => /trained on synthetic faces/.test(({warning})())", timeout=30_000)
        line = page.evaluate(warning).strip()
        said = srv.wait_log(r"lhc-fer: (\S+model\.safetensors: trained on synthetic faces[^\n]*)\n", timeout=10).group(1)
        page.locator(".lhc-explorer").first.screenshot(path=str(SHOTS / "voila-photo-warning.png"))
        assert "\n" not in line and line.endswith(said), (line, said)
        assert "photo astronaut.png" in page.locator(".lhc-explorer").first.inner_text()
        before, after = _move_slider(page, "voila-photo-back")
        page.wait_for_function(f"() => ({warning})() === ''", timeout=10_000)
        assert srv.tail(1_000_000).count("trained on synthetic faces") == 1, srv.tail()
        _no_traceback(page)
        assert not errs["page"], errs["page"]


KERNEL_ID = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None


def _http(url, method="GET", headers=None, data=None):
    "(status, Location header) of one request, redirects not followed."
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try: r = urllib.request.build_opener(_NoRedirect).open(req, timeout=20)
    except urllib.error.HTTPError as e: return e.code, e.headers.get("Location")
    return r.status, r.headers.get("Location")


def test_voila_refuses_without_token(browser, voila, voila_page):
    "The printed address carries a URL-safe token; without it the app is the login page and starts no kernel, and the kernel API and the shutdown endpoint answer 403 (with a valid _xsrf pair, so it is the login that refuses)."
    base, port, srv = voila
    page, errs, _ = voila_page
    page.wait_for_selector(IMG, state="attached", timeout=WIDGET_TIMEOUT)   # the app loaded with the token; its kernel is up
    token = urllib.parse.parse_qs(urllib.parse.urlparse(printed_url(srv)).query)["token"][0]
    assert printed_url(srv) == f"{base}?token={token}" and re.fullmatch(r"[A-Za-z0-9_-]{40,}", token), printed_url(srv)
    kid, live = page.evaluate(KERNEL_ID), srv.kernels()
    assert len(live) == 1, live
    assert _http(base) == (302, "/login?next=%2F")
    assert _http(f"{base}?token=wrong{token}")[0] == 302
    assert _http(f"{base}api/kernels/{kid}")[0] == 403
    xsrf = {"Cookie": "_xsrf=00ff", "Content-Type": "application/x-www-form-urlencoded"}
    assert _http(f"{base}voila/api/shutdown/{kid}", "POST", xsrf, b"_xsrf=00ff")[0] == 403
    assert _http(f"{base}api/kernels/{kid}", headers={"Authorization": f"token {token}"})[0] == 200   # still alive
    other = browser.new_page()                                   # a fresh context: no login cookie
    try:
        other.goto(base, wait_until="load")
        assert urllib.parse.urlparse(other.url).path == "/login", other.url
        assert other.locator(".lhc-explorer").count() == 0
        other.screenshot(path=str(SHOTS / "voila-login.png"))
    finally: other.close()
    assert srv.kernels() == live                                 # no kernel started for the refused requests


def _connections(url, kid):
    "How many pages the server counts on kernel `kid` (its kernel API, authenticated with the token in `url`)."
    u = urllib.parse.urlparse(url); token = urllib.parse.parse_qs(u.query).get("token", [""])[0]
    req = urllib.request.Request(f"{u.scheme}://{u.netloc}/api/kernels/{kid}", headers={"Authorization": f"token {token}"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())["connections"]


def _open(browser, url, n):
    "`n` pages, each in a context of its own, loading `url` at once; returned once each shows the tiny app's output and is connected to its kernel."
    pages = [browser.new_context().new_page() for _ in range(n)]   # a page of browser.new_page() takes its context down with it at once
    for p in pages: p.goto(url, wait_until="commit")
    for p in pages:
        p.get_by_text(TINY_TEXT).wait_for(timeout=60_000)
        kid, t0 = p.evaluate(KERNEL_ID), time.time()
        while _connections(url, kid) < 1:                        # Voila's page registers its close handler as it connects
            assert time.time() - t0 < 30, f"page never connected to kernel {kid}"
            time.sleep(0.1)
    return pages


def test_page_close_shuts_its_kernel(browser, tiny_voila):
    "Served as `lhc-fer explore --no-token` serves it, with culling off: each of 3 pages loaded and closed (unload handlers run, as a browser closing a tab does) takes its kernel with it, through Voila's own shutdown request."
    url, srv = tiny_voila(token="", cull_idle=0)
    for i in range(3):
        t0 = time.time()
        page, = _open(browser, url, 1)
        srv.wait_kernels(1)
        page.close(run_before_unload=True)                       # returns at once; the page runs its handlers and closes
        took = srv.wait_kernels(0, timeout=10)
        page.context.close()
        print(f"page {i}: loaded in {time.time() - t0 - took:.1f} s, kernel gone {took:.1f} s after close")
    assert "403 POST /voila/api/shutdown" not in srv.tail(100_000), srv.tail()


def test_closed_pages_kernels_culled(browser, tiny_voila):
    "With a token and --cull-idle 6: three open pages keep their kernels past the idle time; closed without a word (no unload handlers, like a killed tab), their kernels are culled."
    url, srv = tiny_voila(token=secrets.token_urlsafe(32), cull_idle=6)   # long enough that a slow (loaded) page start is never culled
    pages = _open(browser, url, 3)
    assert len(srv.kernels()) == 3
    time.sleep(12)                                               # twice the idle time: connected pages are not culled
    assert len(srv.kernels()) == 3, srv.tail()
    for p in pages: p.context.close()                            # closes the page without its unload handlers: no shutdown request
    took = srv.wait_kernels(0, timeout=40)
    print(f"3 closed pages: kernels culled within {took:.1f} s")
    assert srv.tail(100_000).count("Culling 'idle' kernel") == 3, srv.tail()


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
