"Turn off JupyterLab's news/update prompt in this venv (it covers the corner in browser tests and needs the network)."
import json, sys
from pathlib import Path
p = Path(sys.prefix)/"share/jupyter/lab/settings/overrides.json"
p.parent.mkdir(parents=True, exist_ok=True)
d = json.loads(p.read_text()) if p.exists() else {}
d["@jupyterlab/apputils-extension:notification"] = {"fetchNews": "false", "checkForUpdates": False}
p.write_text(json.dumps(d, indent=2))
print(f"wrote {p}")
