# lhc_fer: `make demo` runs the main job, `make test` runs every check CI runs. Both build .venv on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV  := .venv
BIN   := $(VENV)/bin
# The stamp is keyed on pyproject.toml's and this file's content: a second run reuses the venv, a change reinstalls.
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml Makefile 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: help venv demo test browser-test lab bench readme export clean

help:
	@echo "make demo          train a small LHC-Net on synthetic faces (outputs/demo)"
	@echo "make test          export/clean checks, notebook tests, pytest, browser test"
	@echo "make browser-test  the real-browser test of the explorer (JupyterLab + Voila)"
	@echo "make lab           JupyterLab on nbs/"
	@echo "make bench         run bench/*.py (ratios measured side by side)"
	@echo "make readme        README.md from nbs/index.ipynb"
	@echo "make export        notebooks -> lhc_fer/ (nbdev-export)"
	@echo "make clean         remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml setup.py Makefile
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -e ".[dev]"
	# MTCNN, the optional face detector (lhc-fer predict --detector mtcnn): its pins (torch<=2.3, numpy<2) would replace torch
	$(BIN)/python -m pip install --no-deps facenet-pytorch==2.6.0
	$(BIN)/python tools/lab_settings.py
	@rm -f $(VENV)/.stamp-*; touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/lhc-fer demo --force

test: $(STAMP)
	@bash tools/test.sh

browser-test: $(STAMP)
	@bash tools/browser_test.sh

lab: $(STAMP)
	$(BIN)/jupyter lab nbs/

bench: $(STAMP)
	$(BIN)/lhc-fer bench

readme: $(STAMP)
	$(BIN)/python tools/make_readme.py

export: $(STAMP)
	$(BIN)/nbdev-export

clean:
	rm -rf _docs _proc build dist *.egg-info .pytest_cache outputs/browser
	find . -name __pycache__ -not -path "./.venv/*" -prune -exec rm -rf {} +
