# The two commands a reader needs: `make book` and `make test`. Everything else is for contributors.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# kernels iterate sets of strings in the same order in every build
export PYTHONHASHSEED := 0
JB     := $(BIN)/jupyter-book build . -W -n --keep-going

.PHONY: venv lint test book site serve sync notebooks check-notebooks check-offline check-pages check-install measure-build artifacts clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -c requirements-lock.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

lint: $(STAMP)                 ## ruff (lint; format, chapters too) and pyright over the library, tests and tools
	$(BIN)/ruff check interplib tests tools
	$(BIN)/ruff format --check interplib tests tools chapters
	$(BIN)/pyright --pythonpath $(BIN)/python

test: lint                     ## lint, then the test suite of interplib and of the book's sources
	$(BIN)/python -m pytest

book: $(STAMP)                 ## execute every chapter and write _build/html/
	$(JB)

site: book                     ## the exact folder that is deployed: _build/html
	@echo "site: $(CURDIR)/_build/html"

serve: site                    ## preview the deployed folder on http://localhost:8000
	$(BIN)/python -m http.server --directory _build/html --bind 127.0.0.1 8000

sync: $(STAMP)                 ## rewrite each chapter's .ipynb from its .md (run after editing a chapter)
	$(BIN)/jupytext --sync chapters/*.md

notebooks: book                ## notebooks/: the reader notebooks Binder and Colab open (MyST resolved, no outputs), from the build; commit them
	$(BIN)/python tools/export_notebooks.py _build/html notebooks

check-notebooks: $(STAMP)      ## notebooks/ is what the last build makes of every chapter (else: make notebooks)
	$(BIN)/python tools/export_notebooks.py _build/html notebooks --check

check-offline: $(STAMP)        ## headless Chromium, network off: figures drawn and math typeset, on the pages and in the downloadable notebooks
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python tools/check_offline.py _build/html

check-pages: $(STAMP)          ## the executed chapters: no stray outputs, every glued key used in the prose
	$(BIN)/python tools/check_pages.py _build/html

check-install:                 ## pip install (not editable) into a fresh venv; --list and two notebooks from outside the book
	bash tools/check_install.sh

measure-build: $(STAMP)        ## cold then warm build; writes book-timings.json for the status page
	$(BIN)/python tools/measure_build.py

artifacts: $(STAMP)            ## retrain every artifact on this machine (slow; see `--list`)
	$(BIN)/python -m interplib.train --all --force

clean:
	rm -rf _build

# ---- publishing (issue 9): link check, reproducibility check, cache key -------------------------
.PHONY: linkcheck retrain drift cache-key smoke
LINKCHECK_PYTHON ?= $(BIN)/python
DEVICE    ?= auto
JOBS      ?= 1        # recipes trained at once (a GPU: several; each gets cores/JOBS threads)
RETRAINED ?= _build/retrained

linkcheck:                     ## request every external link of the sources (needs the network; not in CI's build)
	$(LINKCHECK_PYTHON) -m interplib.book.links --check

retrain: $(STAMP)              ## retrain every artifact into $(RETRAINED), leaving the committed artifacts/ untouched
	rm -rf $(RETRAINED)
	INTERPLIB_ARTIFACTS=$(abspath $(RETRAINED)) $(BIN)/python -m interplib.train --all --force --device $(DEVICE) --jobs $(JOBS)

drift: $(STAMP)                ## compare $(RETRAINED) (from `make retrain`) with the committed artifacts/; exit 1 on drift
	$(BIN)/python tools/drift.py artifacts $(RETRAINED) --markdown $(RETRAINED)-drift.md

smoke: $(STAMP)                ## train every recipe's tiny version (GPU runs too), dependencies first, 2 at a time, into a throwaway root
	$(BIN)/python -m interplib.train --all --smoke --device cpu --jobs 2 --logs _build/smoke-logs

cache-key:                     ## the jupyter-cache key CI computes (lib = interplib, requirements, manifest)
	$(PYTHON) tools/cache_key.py
