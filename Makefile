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

# pytest-xdist's workers for `make test` (tests use temporary directories and free ports);
# `make test PYTEST_XDIST=` runs the suite in one process.
PYTEST_XDIST ?= -n 2
# What `make test` runs again under TF 2.21 (Keras 3) and TF 2.15 (Keras 2), with the `matrix` Hypothesis
# profile: the tests whose outcome can change with TensorFlow or Keras (modes, schedules, the Keras paths and
# saved models, XLA and its model, verify, the golden lines and trace, resume and TF's checkpoints, the memory
# check's constants, repeats in one process, the sweep grid, the sharded sums, the peers, the Keras class's
# limits, the benchmarks' steps, doctests). The rest (CLI, files, fuzzing and hostile inputs, golden-file safety, cluster supervision,
# two-process determinism, benchmarks' plumbing) is version-independent and runs once above; `make compat`
# runs everything in all five envs.
TOX_TESTS ?= decaybench tests/test_modes.py tests/test_schedule.py tests/test_schedule_options.py \
	tests/test_keras_paths.py tests/test_registration.py tests/properties/test_loop_properties.py \
	tests/properties/test_schedule_properties.py tests/properties/test_xla_exact.py tests/properties/test_xla_model.py \
	tests/properties/test_half_dtypes.py tests/test_xla_exact.py \
	tests/test_verify.py tests/golden/test_golden.py tests/test_resume.py tests/test_emulation.py tests/test_sweep.py \
	tests/test_memory.py tests/test_checkpoint.py tests/test_determinism.py::test_twenty_repeats_in_one_process tests/test_grid.py tests/test_loops.py \
	tests/test_long_runs.py tests/test_peers.py \
	tests/test_distributed.py::test_size_one_is_eager_bit_for_bit \
	tests/test_distributed.py::test_w_is_exact_and_the_loss_is_the_shard_sums \
	tests/test_distributed.py::test_splitting_the_sum_moves_the_loss_as_tensorflow_does_within_the_bound \
	tests/test_distributed.py::test_verify_rows_meet_the_sharded_sum_contract \
	tests/test_bench.py::test_the_timed_steps_are_the_modes_steps \
	tests/test_bench.py::test_optax_computing_our_float64_schedule_gives_the_seed_trace_of_mode_xla

test: $(STAMP) $(TOX)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HYPOTHESIS_PROFILE=ci PYTHONDONTWRITEBYTECODE=1 $(BIN)/python -m pytest $(PYTEST_XDIST)
	$(TOX) -e tf221,tf215 -- $(PYTEST_XDIST) $(TOX_TESTS)

install: $(STAMP)

# The TensorFlow matrix of tox.ini (every test in every env), then per env: verify, the compat facts and a
# quick benchmark, one env after the other (the timings share no core with a test run); then docs/compat.md
# and docs/figures/compat_speed.png from what each env wrote; the audit of the built-in schedules under each env's
# Keras (tf216-keras2: tf_keras), then docs/audit.md and its README block.
.PHONY: compat
compat: $(TOX)
	rm -rf $(COMPAT)
	HYPOTHESIS_PROFILE=ci $(TOX) -- $(PYTEST_XDIST)
	mkdir -p $(COMPAT)
	for env in $$($(TOX) -l); do \
		$(TOX) exec -e $$env -- decaybench verify --format json --output $(COMPAT)/$$env.verify.json || exit 1; \
		$(TOX) exec -e $$env -- python -m tools.compat collect --output $(COMPAT)/$$env.env.json || exit 1; \
		$(TOX) exec -e $$env -- decaybench bench --quick --group seed long compile --format json --output $(COMPAT)/$$env.bench.json || exit 1; \
		$(TOX) exec -e $$env -- python -m tools.audit_docs collect --output $(COMPAT)/$$env.audit.json || exit 1; \
	done
	$(BIN)/python -m tools.compat build --input $(COMPAT) --output docs/compat.md
	$(BIN)/python -m tools.audit_docs build --input $(COMPAT)/*.audit.json --output docs/audit.md
	$(BIN)/python -m tools.docs --update --blocks audit

# tox-uv: uv builds a TF env 2-3x faster than virtualenv + pip here (cold caches), 5-10x with warm ones.
$(TOX): $(STAMP)
	$(PIP) install --quiet 'tox>=4.20' 'tox-uv>=1.11'
	touch $(TOX)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,peers,plot,bench]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .tox build *.egg-info

# The README's generated tables (verify on the seed, the peers, the benchmark targets).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m tools.docs --update
	$(BIN)/python -m tools.mixed --output docs/figures/mixed_precision.png

# docs/benchmarks.md (and the README's targets): every benchmark workload timed in one run, the targets, and the
# measurements behind the missed ones. Several minutes; the machine should be otherwise idle.
.PHONY: bench-docs
bench-docs: $(STAMP)
	$(BIN)/python -m tools.bench_docs --notes docs/benchmarks.notes.md --output docs/benchmarks.md
	$(BIN)/python -m tools.docs --update --blocks benchmarks

# The mutation self-check (tools/mutants.py): plants each defect of its table in a temporary copy of the
# repository and runs the tests that should catch it; fails unless every one is caught. Not part of `make test`.
# `make mutants MUTANTS="--only xla-2ulp"` runs one; `MUTANTS=--list` lists them.
.PHONY: mutants
mutants: $(STAMP)
	$(BIN)/python tools/mutants.py $(MUTANTS)
