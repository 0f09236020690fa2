"""The import graph of the lhc_fer package: each module's lhc_fer imports (top-level and function-local), circles,
private names crossing modules, and the count of function-local imports. Exit 1 on a circle or a private import."""
import ast, sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent/"lhc_fer"

def module_imports(path:Path) -> dict:
    "{'top': [(module, names)], 'local': [(module, names, function)]} of one module's imports."
    tree, out = ast.parse(path.read_text()), dict(top=[], local=[], local_other=0)
    def visit(node, fn=None):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)): visit(ch, ch.name); continue
            if isinstance(ch, ast.ImportFrom):
                mod = ch.module or ""
                if ch.level == 1 or mod.startswith("lhc_fer."):
                    mod = mod.split(".")[-1] if mod.startswith("lhc_fer.") else mod
                    names = [a.name for a in ch.names]
                    (out["top"] if fn is None else out["local"]).append((mod, names) if fn is None else (mod, names, fn))
                elif fn is not None: out["local_other"] += 1
            elif isinstance(ch, ast.Import) and fn is not None: out["local_other"] += 1
            visit(ch, fn)
    visit(tree)
    return out

def graph() -> dict:
    return {p.stem: module_imports(p) for p in sorted(PKG.glob("*.py")) if p.stem not in ("__init__", "_modidx")}

def cycles(g:dict) -> list:
    "Every circle of the graph (top-level and local imports both count), as lists of module names."
    edges = {m: {i[0] for i in d["top"] + d["local"] if i[0] in g and i[0] != m} for m, d in g.items()}
    found, state = [], {}
    def dfs(m, stack):
        state[m] = 1; stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1: found.append(stack[stack.index(n):] + [n])
            elif n not in state: dfs(n, stack)
        stack.pop(); state[m] = 2
    for m in sorted(edges):
        if m not in state: dfs(m, [])
    return found

if __name__ == "__main__":
    g = graph(); bad = 0
    for m, d in g.items():
        deps = sorted({i[0] for i in d["top"]})
        local = [f"{i[0]} (in {i[2]})" for i in d["local"]]
        print(f"{m:13s} <- {', '.join(deps) or '-'}" + (f"   local: {', '.join(local)}" if local else ""))
        for i in d["top"] + d["local"]:
            priv = [n for n in i[1] if n.startswith("_")]
            if priv and i[0] != m: print(f"  private import: {m} takes {priv} from {i[0]}"); bad = 1
    cs = cycles(g)
    for c in cs: print("circle:", " -> ".join(c))
    n_local = sum(len(d["local"]) + d["local_other"] for d in g.values())
    print(f"{len(g)} modules, {len(cs)} circles, {n_local} function-local imports "
          f"({sum(len(d['local']) for d in g.values())} of lhc_fer itself)")
    sys.exit(1 if cs or bad else 0)
