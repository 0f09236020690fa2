"""Count the checks of the pytest suite: `assert` statements, calls of test_eq/test_close/test_fail/pytest.raises,
of numpy/pandas `assert_*` helpers, and of the suite's shared check (conftest.one_line_error: exit code, one stderr
line, no traceback, the words) in every tests/**/*.py, read with `ast`; prints per file and the total.
Usage: python tools/count_asserts.py [FOLDER ...]   (default: tests/)"""
import ast, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLS = {"test_eq", "test_close", "test_fail", "raises"}   # `raises` as pytest.raises (or imported bare)
SHARED = {"one_line_error"}                                 # conftest's checks, counted where they are called

def call_name(node:ast.Call) -> str:
    "The called function's last name: `pytest.raises(...)` -> 'raises', `np.testing.assert_allclose` -> 'assert_allclose'."
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""

def count(path:Path) -> dict:
    "Per kind: how many checks `path` holds."
    tree = ast.parse(path.read_text(), str(path))
    n = {"assert": 0, "calls": 0, "assert_*": 0, "shared": 0}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert): n["assert"] += 1
        elif isinstance(node, ast.Call):
            name = call_name(node)
            if name in CALLS: n["calls"] += 1
            elif name.startswith("assert_"): n["assert_*"] += 1
            elif name in SHARED: n["shared"] += 1
    return n

def main(folders):
    files = sorted(p for d in folders for p in Path(d).rglob("*.py"))
    tot = {"assert": 0, "calls": 0, "assert_*": 0, "shared": 0}
    print(f"{'file':45} {'assert':>7} {'calls':>6} {'assert_*':>9} {'shared':>7} {'total':>6}")
    for p in files:
        n = count(p)
        for k in tot: tot[k] += n[k]
        name = p.resolve().relative_to(ROOT) if p.resolve().is_relative_to(ROOT) else p
        if sum(n.values()): print(f"{str(name):45} {n['assert']:7} {n['calls']:6} {n['assert_*']:9} {n['shared']:7} {sum(n.values()):6}")
    print(f"{'TOTAL':45} {tot['assert']:7} {tot['calls']:6} {tot['assert_*']:9} {tot['shared']:7} {sum(tot.values()):6}")
    return tot

if __name__ == "__main__": main(sys.argv[1:] or [ROOT/"tests"])
