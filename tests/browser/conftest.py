"""Fixtures of the real-browser tests: Debian's chromium driven by playwright, a JupyterLab server and the
`lhc-fer explore` Voila app, each started on 127.0.0.1 with a free port and stopped by PID (also on failure)."""
import json, os, secrets, signal, socket, subprocess, sys, time, urllib.request
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


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
def voila(workdir):
    "`lhc-fer explore --port P` (the CLI) serving the Voila app, started first (its import overlaps the rest)."
    port = free_port()
    srv = Server("voila", [str(BIN / "lhc-fer"), "explore", "--port", str(port)], kernel_env(workdir), workdir, workdir)
    try: yield f"http://127.0.0.1:{port}/", port, srv
    finally: srv.stop()


@pytest.fixture(scope="session")
def voila_page(browser, voila):
    "A page that starts loading the Voila app right away (its kernel then runs while the JupyterLab test does)."
    url, port, srv = voila
    srv.wait_port(port, timeout=120)                             # Voila's /api/status answers 302: wait for the port
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errs = {"page": [], "console": []}
    page.on("pageerror", lambda e: errs["page"].append(str(e)))
    page.on("console", lambda m: errs["console"].append(m.text) if m.type == "error" else None)
    page.goto(url, wait_until="commit", timeout=60_000)          # Voila executes the notebook on page load
    try: yield page, errs, srv
    finally: page.close()


@pytest.fixture(scope="session")
def report_html(workdir):
    "A standalone HTML report (`lhc_fer.report.build_report`) of a tiny LHC-Net on synthetic faces; yields its path."
    import warnings, torch
    from lhc_fer.data import synthetic_faces
    from lhc_fer.models import lhc_net
    from lhc_fer.report import build_report
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); model = lhc_net(img_size=16, width=0.25, heads=(1,) * 5, emb=(4,) * 5).eval()
    return build_report(model, synthetic_faces(70, seed=0), workdir / "report" / "report.html", n=4)
