# Every target installs what is missing first, from this repository's own files: a fresh machine
# with python3 (>= 3.11) and make needs nothing else. uv comes from PyPI when it is not on PATH.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export LITELLM_LOCAL_MODEL_COST_MAP := True
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen --no-sync

.PHONY: install run test lint format bench catalog clean

install: .venv/.installed

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet "uv>=0.5,<1"

# Bytecode is compiled here, once (12-35 s here, by the machine's load): uv does not compile, and
# where Python does not write its own cache (PYTHONDONTWRITEBYTECODE, as in CI and sandboxes) every
# process would compile every module it imports, every time: `recteam ask` took 2.9 CPU seconds
# instead of 1.6, and each test that starts a process pays the same. recteam's own modules too
# (an edited one is simply compiled again at import, as without this).
.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	$(RUN) python -m compileall -q -j 0 recteam
	@touch $@

run: install  ## prepare the embedded store on first run, then serve the chat on http://127.0.0.1:7860
	$(RUN) recteam serve

test: install  ## the whole suite (installs Debian's Chromium for the browser test when missing)
	bash scripts/ensure_browser.sh
	$(RUN) pytest

lint: install  ## ruff (lint + format check) and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install  ## search p50/p95 at 1k/10k/full, per-agent turn latency, LLM use, memory growth; bench-out/bench.png
	$(RUN) recteam bench

catalog: install  ## rebuild recteam/data/catalog.* from ../shared/data/wikipedia-movies
	$(RUN) python scripts/build_catalog.py ../shared/data/wikipedia-movies

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache .mypy_cache test-artifacts
