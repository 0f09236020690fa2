"""Fixtures of the real-browser tests: Debian's chromium driven by playwright, a JupyterLab server and the
`lhc-fer explore` Voila app, each started on 127.0.0.1 with a free port and stopped by PID (also on failure)."""
import importlib.util, json, os, re, secrets, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "outputs" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BIN = Path(sys.executable).parent


def ensure_chromium():
    "Install Debian's chromium with apt-get when /usr/bin/chromium is missing (never `playwright install`)."
    if Path(CHROMIUM).exists(): return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    assert Path(CHROMIUM).exists(), "apt-get install chromium did not provide /usr/bin/chromium"


def lab_settings():
    "Turn off JupyterLab's news/update prompt (it covers the corner and needs the network) in this venv."
    p = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    d = json.loads(p.read_text()) if p.exists() else {}
    want = {"fetchNews": "false", "checkForUpdates": False}
    if d.get("@jupyterlab/apputils-extension:notification") != want:
        d["@jupyterlab/apputils-extension:notification"] = want
        p.write_text(json.dumps(d, indent=2))


def _shared_conftest():
    "tests/conftest.py, the suite's shared helpers: pytest imports it as `conftest` too, a name that this file takes over."
    spec = importlib.util.spec_from_file_location("lhc_fer_tests_conftest", ROOT / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

# re-exported, so `from conftest import free_port, lhc, ...` works in every test file when one run collects both folders
_shared = _shared_conftest()
globals().update({k: getattr(_shared, k) for k in _shared.__all__})


class Server:
    "A server process in its own process group, logging to a file; `stop` ends that group by the PID we started."
    def __init__(self, name, cmd, env, cwd, log_dir):
        self.name, self.log = name, Path(log_dir) / f"{name}.log"
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_port(self, port, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None: break
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0: return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not listen on port {port} (exit {self.proc.poll()}):\n{self.tail()}")

    def tail(self, n=3000): return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def wait_log(self, pattern, timeout=60):
        "The first match of the regex `pattern` in the server's log, waiting up to `timeout` seconds for it."
        t0 = time.time()
        while time.time() - t0 < timeout:
            m = re.search(pattern, self.log.read_text(errors="replace"))
            if m: return m
            if self.proc.poll() is not None: break
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: no {pattern!r} in its log (exit {self.proc.poll()}):\n{self.tail()}")

    def descendants(self):
        "PIDs of the processes our server started (kernels run in sessions of their own, so not in its group)."
        kids = {}
        for st in Path("/proc").glob("[0-9]*/stat"):
            try: pid, ppid = int(st.parent.name), int(st.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError): continue
            kids.setdefault(ppid, []).append(pid)
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop(); out.append(p); todo += kids.get(p, [])
        return out

    def kernels(self):
        "PIDs of the live kernels our server started (its descendants running ipykernel)."
        out = []
        for pid in self.descendants()[1:]:
            try: cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError: continue
            if any(b"ipykernel" in c for c in cmd) and not _zombie(pid): out.append(pid)
        return out

    def wait_kernels(self, n, timeout=20):
        "Wait until exactly `n` kernels of ours are alive; return the seconds it took."
        t0 = time.time()
        while len(self.kernels()) != n:
            if time.time() - t0 > timeout:
                raise AssertionError(f"{self.name}: {len(self.kernels())} kernels alive after {timeout} s, expected {n}:\n{self.tail()}")
            time.sleep(0.2)
        return time.time() - t0

    def stop(self, grace=8):
        "SIGTERM our server and every process it started, by PID; SIGKILL what is left after `grace` seconds."
        if self.proc.poll() is not None: return
        pids = self.descendants()
        for pid in reversed(pids):                               # kernels first, then the server
            try: os.kill(pid, signal.SIGTERM)
            except ProcessLookupError: pass
        t0 = time.time()
        while time.time() - t0 < grace and self.proc.poll() is None: time.sleep(0.1)
        for pid in pids:
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
        self.proc.wait(5)


def _zombie(pid):
    try: return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError): return True


def kernel_env(tmp):
    "Environment for servers and their kernels: private runtime/temp dirs, one thread each, quick app model."
    (tmp / "runtime").mkdir(exist_ok=True)
    return {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "LHC_FER_EXPLORE_EPOCHS": "0", "PYTHONUNBUFFERED": "1",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def browser():
    ensure_chromium()
    from playwright.sync_api import sync_playwright
    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try: yield b
    finally:
        b.close(); pw.stop()


@pytest.fixture(scope="session")
def lab(workdir):
    "JupyterLab serving a folder that holds the explorer app notebook; yields (base url, token, notebook name)."
    from lhc_fer.explorer import write_app
    lab_settings()
    root = workdir / "lab"; root.mkdir()
    write_app(root / "explorer.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={workdir / 'workspaces'}"]
    srv = Server("jupyterlab", cmd, kernel_env(workdir), root, workdir)
    try:
        srv.wait_port(port)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):                                    # the REST API answers once the server app is up
            try:
                if urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).status == 200: break
            except OSError: time.sleep(0.2)
        yield url, token, "explorer.ipynb", srv
    finally: srv.stop()


@pytest.fixture(scope="session")
def run_dir(workdir):
    """A run folder as `lhc-fer train --protocol fast` leaves it: LHC-Net (the app's own architecture: 8+8+8+8+1 heads) at
    its top and in lhc/, its host in host/, each with the metrics.json that records its synthetic training data."""
    import warnings, torch
    from lhc_fer.synthetic import synthetic_faces
    from lhc_fer.models import lhc_from_host, resnet34v2
    from lhc_fer.checkpoint import save_model
    torch.manual_seed(0)
    host = resnet34v2(img_size=64, width=0.25).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); lhc = lhc_from_host(host, heads="auto", emb=(16, 16, 16, 8, 4)).eval()
    run, data = workdir / "run", synthetic_faces(300, seed=0).source
    for d, m in ((run / "host", host), (run / "lhc", lhc), (run, lhc)):
        save_model(m, d / "model.safetensors"); (d / "metrics.json").write_text(json.dumps({"data": data}))
    return run


@pytest.fixture(scope="session")
def voila(workdir, run_dir):
    "`lhc-fer explore RUN --port P` (the CLI) serving the Voila app for a run folder with a host, started first (its import overlaps the rest); yields its base url, port and server."
    port = free_port()
    srv = Server("voila", [str(BIN / "lhc-fer"), "explore", str(run_dir), "--port", str(port)], kernel_env(workdir), workdir, workdir)
    try: yield f"http://127.0.0.1:{port}/", port, srv
    finally: srv.stop()


def printed_url(srv, timeout=60):
    "The address `lhc-fer explore` printed (with its token)."
    return srv.wait_log(r"lhc-fer explore: serving (http://127\.0\.0\.1:\d+/\S*) \(Ctrl-C stops it\)", timeout).group(1)


@pytest.fixture(scope="session")
def voila_page(browser, voila):
    "A page that starts loading the Voila app right away (its kernel then runs while the JupyterLab test does)."
    base, port, srv = voila
    srv.wait_port(port, timeout=120)                             # Voila's /api/status answers 302: wait for the port
    url = printed_url(srv)                                       # the address with the token: the app loads
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errs = {"page": [], "console": []}
    page.on("pageerror", lambda e: errs["page"].append(str(e)))
    page.on("console", lambda m: errs["console"].append(m.text) if m.type == "error" else None)
    page.goto(url, wait_until="commit", timeout=60_000)          # Voila executes the notebook on page load
    try: yield page, errs, srv
    finally: page.close()


TINY_TEXT = "tiny app ready"


@pytest.fixture
def tiny_voila(tmp_path):
    """Start Voila on a one-cell notebook with the settings `lhc-fer explore` gives it (`voila_config`, `voila_command`):
    `start(token, cull_idle)` returns (url with the token, server). Its page loads in a second or two."""
    from nbformat.v4 import new_notebook, new_code_cell
    import nbformat
    from lhc_fer.explorer import voila_command, voila_config
    servers = []
    def start(token, cull_idle):
        d = tmp_path / f"tiny{len(servers)}"; (d / "config").mkdir(parents=True)
        nb = d / "tiny.ipynb"
        nbformat.write(new_notebook(cells=[new_code_cell(f"print({TINY_TEXT!r})")],
                                    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), str(nb))
        (d / "config" / "voila.py").write_text(voila_config(token, cull_idle))
        port = free_port()
        srv = Server(f"tiny-voila{len(servers)}", voila_command(nb, port, d / "config"), kernel_env(d), d, d)
        servers.append(srv)
        srv.wait_port(port)
        return f"http://127.0.0.1:{port}/" + (f"?token={token}" if token else ""), srv
    try: yield start
    finally:
        for srv in servers: srv.stop()


@pytest.fixture(scope="session")
def report_html(workdir):
    "A standalone HTML report (`lhc_fer.report.build_report`) of a tiny LHC-Net on synthetic faces; yields its path."
    import warnings, torch
    from lhc_fer.synthetic import synthetic_faces
    from lhc_fer.models import lhc_net
    from lhc_fer.report import build_report
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); model = lhc_net(img_size=16, width=0.25, heads=(1,) * 5, emb=(4,) * 5).eval()
    return build_report(model, synthetic_faces(70, seed=0), workdir / "report" / "report.html", n=4)
