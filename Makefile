# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: run test install clean

run: $(STAMP)
	$(BIN)/decaybench run
	@echo
	$(BIN)/decaybench verify

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,peers,plot]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .tox build *.egg-info
