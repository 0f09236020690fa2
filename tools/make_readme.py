"README.md from nbs/index.ipynb with nbconvert (nbdev-readme needs Quarto, which cannot be installed here)."
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/"nbs/index.ipynb", as_version=4)
keep = []
for c in nb.cells:
    src = c.source.lstrip()
    if c.cell_type == "code" and re.search(r"^#\|\s*(hide|export)", src, re.M): continue
    if c.cell_type == "code":
        c.source = "\n".join(l for l in c.source.split("\n") if not l.startswith("#|")).strip()
    keep.append(c)
nb.cells = keep
md, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
md = re.sub(r"\]\((images/)", r"](nbs/\1", md)           # image paths relative to the repo root
md = re.sub(r'src="(images/)', r'src="nbs/\1', md)
md = re.sub(r"\n{3,}", "\n\n", md).strip() + "\n"
out = root/"README.md"
changed = not out.exists() or out.read_text() != md
out.write_text(md)
print(f"README.md {'updated' if changed else 'unchanged'} ({len(md.splitlines())} lines)")
