# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check
TOX := $(BIN)/tox
COMPAT := .tox/compat

.PHONY: run test install clean

run: $(STAMP)
	$(BIN)/decaybench run
	@echo
	$(BIN)/decaybench verify

test: $(STAMP) $(TOX)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest
	$(TOX) -e tf221,tf215

install: $(STAMP)

# The TensorFlow matrix of tox.ini, then docs/compat.md from what each env wrote.
.PHONY: compat
compat: $(TOX)
	rm -f $(COMPAT)/*.json
	$(TOX)
	$(BIN)/python -m decaybench.compat build --input $(COMPAT) --output docs/compat.md

# tox-uv: uv builds a TF env 2-3x faster than virtualenv + pip here (cold caches), 5-10x with warm ones.
$(TOX): $(STAMP)
	$(PIP) install --quiet 'tox>=4.20' 'tox-uv>=1.11'
	touch $(TOX)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,peers,plot]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .tox build *.egg-info

# The README's generated tables (verify on the seed, the peers, the benchmark targets).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m decaybench.docs --update

# docs/benchmarks.md: every benchmark workload timed in one run, the targets, and the
# measurements behind the missed ones. Several minutes; the machine should be otherwise idle.
.PHONY: bench-docs
bench-docs: $(STAMP)
	$(BIN)/python -m decaybench.bench --notes docs/benchmarks.notes.md --output docs/benchmarks.md
