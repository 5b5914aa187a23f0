"""``make mutants``: plant one defect at a time in a copy of the repository and see whether its tests fail.

Each mutant of :data:`MUTANTS` is one defect: exact text to find in a file of the repository and the
text to put in its place (plus, rarely, more edits in other files that go with it), and the tests
that should fail on it. For each mutant the script copies the tracked files (``git ls-files``, as
they are in the working tree) to a temporary directory, plants the edits there, runs the tests
there with this Python (``PYTHONPATH=<copy>``, ``-p no:xdist -x -q``, a timeout), and reports:

    caught   yes      the tests failed (or did not collect), and the first failing test fails
                      because of the mutant: it passes in an unmutated copy (checked at the end)
             NO       the tests passed: they cannot fail on this defect
             stale    an old text is not in its file exactly once: the code moved, re-point it
             timeout  the tests ran past --timeout
             bad      the selection is wrong: no tests collected, or pytest's usage error
             flaky    the first failing test fails in the unmutated copy too

The checkout is never modified. The copy has no ``../shared`` beside it (the course note of this
workplace), so the tests see what a fresh clone sees. The exit status is 0 only when every
mutant is caught. ``make mutants`` is not part of ``make test``.

Adding a mutant: add one :class:`Mutant` to :data:`MUTANTS`: an id, what it plants (a few
words), the file, the old text (exactly once in the file; include a neighbouring line to make it
unique), the new text, and the tests that should catch it as pytest arguments (files, node ids,
``-k``). Check it with ``tools/mutants.py --list`` (stale?) and ``tools/mutants.py --only ID``.

>>> plant("a = 1\\nb = 2\\n", "b = 2", "b = 3")
'a = 1\\nb = 3\\n'
>>> plant("x\\nx\\n", "x", "y") is None  # not exactly once: stale
True
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn


@dataclass(frozen=True)
class Mutant:
    """One planted defect: ``old`` replaced by ``new`` in ``file`` (and each ``(file, old, new)`` of ``also``)."""

    id: str
    what: str
    file: str
    old: str
    new: str
    tests: str
    also: tuple[tuple[str, str, str], ...] = ()

    @property
    def edits(self) -> tuple[tuple[str, str, str], ...]:
        return ((self.file, self.old, self.new), *self.also)

    @property
    def arguments(self) -> list[str]:
        """The pytest arguments of :attr:`tests`, split as a shell would.

        >>> Mutant("m", "", "f", "a", "b", "tests/test_modes.py -k 'xla or bound'").arguments
        ['tests/test_modes.py', '-k', 'xla or bound']
        """
        return shlex.split(self.tests)


SCHEDULE_TESTS = "tests/test_schedule.py tests/properties/test_schedule_properties.py decaybench/schedule.py"
FORMAT_LINE = "    return SEED_FORMAT % (int(epoch), float(w), float(loss), float(lr))"
LINE_39 = "After 39 epoch,w is -0.999999,loss is 0.000000,lr is 0.135146"

MUTANTS: tuple[Mutant, ...] = (
    # ---- the schedule: the float64 reference, TensorFlow's twin, the Keras class, the options
    Mutant(
        "ref-step-f32",
        "reference: continuous exponent from a float32 step",
        "decaybench/schedule.py",
        "    return float(step) / float(decay_steps)",
        "    return float(np.float32(step)) / float(decay_steps)",
        SCHEDULE_TESTS,
    ),
    Mutant(
        "ref-stair-2^31",
        "reference: staircase one stair short from step 2**31",
        "decaybench/schedule.py",
        "return float(step // decay_steps) if isinstance(step, int)",
        "return float(step // decay_steps - (step >= 2**31)) if isinstance(step, int)",
        SCHEDULE_TESTS,
    ),
    Mutant(
        "tf-stair-f32",
        "TF schedule: staircase floor of a float32 step",
        "decaybench/schedule.py",
        "        stairs = tf.cast(step // decay_steps, tf.float64)",
        "        stairs = tf.floor(tf.cast(tf.cast(step, tf.float32), tf.float64) / tf.cast(decay_steps, tf.float64))",
        SCHEDULE_TESTS,
    ),
    Mutant(
        "tf-stair-early",
        "TF schedule: each stair one step early",
        "decaybench/schedule.py",
        "        stairs = tf.cast(step // decay_steps, tf.float64)",
        "        stairs = tf.cast((step + 1) // decay_steps, tf.float64)",
        SCHEDULE_TESTS,
    ),
    Mutant(
        "keras-via-f32",
        "Keras class: float64 schedule rounded through float32",
        "decaybench/keras_schedule.py",
        "            return tf.cast(self.schedule.tf_lr(step), self.dtype)",
        "            return tf.cast(tf.cast(self.schedule.tf_lr(step), tf.float32), self.dtype)",
        "tests/test_schedule.py tests/properties/test_schedule_properties.py decaybench/keras_schedule.py",
    ),
    Mutant(
        "tf-transition-begin",
        "TF schedule: transition_begin (when > 0) one step early",
        "decaybench/schedule.py",
        "        step = tf.maximum(tf.cast(step, tf.int64) - as_tensor(transition_begin, tf.int64), 0)",
        "        step = tf.maximum(tf.cast(step, tf.int64) - tf.maximum(as_tensor(transition_begin, tf.int64) - 1, 0), 0)",
        "tests/test_schedule_options.py tests/test_schedule.py decaybench/schedule.py",
    ),
    Mutant(
        "ref-end-value",
        "reference (arrays): end_value a floor, not a ceiling, at decay_rate 1",
        "decaybench/schedule.py",
        "(np.maximum if self.decay_rate < 1 else np.minimum)(lrs, self.end_value)",
        "(np.maximum if self.decay_rate <= 1 else np.minimum)(lrs, self.end_value)",
        "tests/test_schedule_options.py tests/test_schedule.py decaybench/schedule.py",
    ),
    # ---- each mode's values
    Mutant(
        "eager-lr-f32",
        "eager: lr rounded to float32 before the float64 update",
        "decaybench/modes/eager.py",
        "        w.assign_sub(lr * grads)",
        "        w.assign_sub(tf.cast(tf.constant(lr, tf.float32), w.dtype) * grads)",
        "tests/test_modes.py tests/golden tests/properties/test_loop_properties.py -k 'eager or golden or documented'",
    ),
    Mutant(
        "loop-lr-ahead",
        "graph/xla loop (every epoch recorded): lr of the next epoch",
        "decaybench/modes/_scaffold/compiled_loop.py",
        "        for epoch in tf.range(start, stop):\n            lr = tf_exponential_decay(epoch, *schedule)",
        "        for epoch in tf.range(start, stop):\n            lr = tf_exponential_decay(epoch + 1, *schedule)",
        "tests/test_modes.py tests/properties/test_loop_properties.py -k 'graph or bound'",
    ),
    Mutant(
        "xla-2ulp",
        "xla: w moved by 2 ULP on staircase runs",
        "decaybench/modes/_scaffold/compiled_loop.py",
        "            return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)",
        "            if mode == 'xla' and config.staircase:\n"
        "                w = np.nextafter(np.nextafter(w, np.inf), np.inf)\n"
        "            return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)",
        "tests/test_modes.py tests/properties/test_loop_properties.py tests/test_verify.py -k 'xla or bound'",
    ),
    Mutant(
        "xla-2ulp-late",
        "xla: last row's w moved by 2 ULP on staircase runs over 20 epochs",
        "decaybench/modes/_scaffold/compiled_loop.py",
        "            return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)",
        "            if mode == 'xla' and config.staircase and config.epochs > 20 and config.initial_learning_rate > 0:\n"
        "                w = w.copy()\n"
        "                w[-1] = np.nextafter(np.nextafter(w[-1], np.inf), np.inf)\n"
        "            return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)",
        "tests/test_modes.py tests/properties/test_loop_properties.py tests/test_verify.py -k 'xla or bound'",
    ),
    Mutant(
        "numpy-fused",
        "numpy mode: the update fused (one rounding)",
        "decaybench/modes/emulation.py",
        "    return emulate(config, progress=progress, checkpoints=",
        "    return emulate(config, True, progress=progress, checkpoints=",
        "tests/test_modes.py tests/properties/test_loop_properties.py -k 'numpy or bound'",
    ),
    # ---- fit / callback logging
    Mutant(
        "fit-lr-late",
        "fit/callback: applied lr read after the first step",
        "decaybench/modes/fit.py",
        "            self._lr = self._applied_lr(self.model.optimizer)\n\n"
        "    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:\n"
        "        # The epoch's running mean after one step is that step's loss (x / 1 is exact).\n"
        "        if batch == 0 and self.record.wants(self._epoch):\n"
        '            self._loss = (logs or {})["loss"]\n',
        "            pass\n\n"
        "    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:\n"
        "        if batch == 0 and self.record.wants(self._epoch):\n"
        '            self._loss = (logs or {})["loss"]\n'
        "            self._lr = self._applied_lr(self.model.optimizer)\n",
        "tests/test_keras_paths.py tests/test_modes.py -k 'fit or callback'",
    ),
    # ---- the sweep's metrics
    Mutant(
        "grid-tol-late",
        "grid loop: epochs_to_tol one epoch late",
        "decaybench/sweep_loops.py",
        "    below = tf.where((below < 0) & (tf.cast(loss, tf.float64) < tol), epoch, below)",
        "    below = tf.where((below < 0) & (tf.cast(loss, tf.float64) < tol), epoch + 1, below)",
        "tests/test_grid.py tests/test_sweep_cli.py",
    ),
    Mutant(
        "metrics-nonfinite-late",
        "metrics: first non-finite epoch one epoch late",
        "decaybench/metrics.py",
        "    return None if finite.all() else int(np.asarray(epoch)[np.argmin(finite)])",
        "    return None if finite.all() else int(np.asarray(epoch)[np.argmin(finite)]) + 1",
        "tests/test_grid.py tests/test_trace.py decaybench/metrics.py",
    ),
    # ---- resume
    Mutant(
        "resume-skips-epoch",
        "resume: continues one epoch after the checkpoint",
        "decaybench/checkpoint/__init__.py",
        "            self.resumed_from = state.epoch\n            return state\n",
        "            self.resumed_from = state.epoch\n"
        "            if 0 < state.epoch < self.config.epochs:\n"
        "                state = State(state.epoch + 1, state.w, state.rows_w, state.rows_loss, state.rows_lr)\n"
        "            return state\n",
        "tests/test_resume.py tests/test_checkpoint.py -k 'not fit and not callback and not peer and not mirrored'",
    ),
    # ---- golden files and the course note's lines
    Mutant(
        "format-lr-truncated",
        "format_line: lr truncated to 6 decimals, not rounded",
        "decaybench/trace.py",
        FORMAT_LINE,
        "    return SEED_FORMAT % (int(epoch), float(w), float(loss), np.floor(float(lr) * 1e6) / 1e6)",
        "tests/golden tests/test_trace.py decaybench/trace.py",
    ),
    Mutant(
        "golden-with-code",
        "epoch 39's lr line changed in format_line and both golden texts",
        "decaybench/trace.py",
        FORMAT_LINE,
        "    return SEED_FORMAT % (int(epoch), float(w), float(loss), float(lr) + (1e-6 if int(epoch) == 39 else 0.0))",
        "tests/golden tests/test_trace.py decaybench/trace.py decaybench/golden.py",
        also=(
            ("golden/seed_documented.txt", LINE_39, LINE_39[:-1] + "7"),
            ("golden/seed_trace.txt", LINE_39, LINE_39[:-1] + "7"),
        ),
    ),
    # ---- the memory check
    Mutant(
        "memory-halved",
        "memory: graph/xla/xla-exact estimate halved",
        "decaybench/memory.py",
        "    result = _trace(config, PEAK_COPIES)\n",
        "    result = _trace(config, PEAK_COPIES)\n"
        "    if mode in ROWS_ONLY:\n"
        "        result = Footprint(0, result.per_row // 2, result.per_element // 2)\n",
        "tests/test_memory.py decaybench/memory.py",
    ),
    Mutant(
        "memory-copies",
        "memory: a trace counted 2 times at the peak, not 3",
        "decaybench/memory.py",
        "PEAK_COPIES = 3\n",
        "PEAK_COPIES = 2\n",
        "tests/test_memory.py decaybench/memory.py",
    ),
    # ---- the peers' causes
    Mutant(
        "peers-lr-matters",
        "peers: lr differences blamed without the replay",
        "decaybench/peers/conformance.py",
        "    lr_matters = lr_epochs.size and not _bits_equal(_replay(config, reference.lr, update), trace.w).all()",
        "    lr_matters = bool(lr_epochs.size)",
        "tests/test_peers.py -k 'seed_findings or conformance_table or replay'",
    ),
    Mutant(
        "peers-ulp-claim",
        "peers: the measured lr ULP distance reported 1 more",
        "decaybench/peers/conformance.py",
        '            f"(max {max_ulp(applied, wanted)} ULP)"',
        '            f"(max {max_ulp(applied, wanted) + 1} ULP)"',
        "tests/test_peers.py -k 'seed_findings or conformance_table or replay'",
    ),
    # ---- mixed precision: the schedule on a skipped step
    Mutant(
        "mixed-torch-waits",
        "torch peer: the scheduler stepped after applied steps only",
        "decaybench/peers/mixed_runs.py",
        "            scheduler.step()\n",
        "            if scaler.get_scale() >= scale:\n                scheduler.step()\n",
        "tests/test_peers_mixed.py -k torch",
    ),
    Mutant(
        "skip-check-unshifted",
        "skipped_step_check: the forced run compared with the unshifted schedule",
        "decaybench/skipped_step_check.py",
        '        want = epoch - shift if expect == "waits" else epoch',
        "        want = epoch",
        "tests/test_pytest_plugin.py -k 'readme_keras3 or torch_grad_scaler'",
    ),
    Mutant(
        "read-fifo-swap",
        "reading: no fstat after the open (a FIFO swapped in is read)",
        "decaybench/reading.py",
        "    if not stat.S_ISREG(opened.st_mode):  # swapped between the check and the open",
        "    if False:  # swapped between the check and the open",
        "tests/test_hostile_inputs.py -k swapped",
    ),
    Mutant(
        "state-epoch-rank",
        "checkpoint: state.npz's arrays taken at any rank and dtype (epoch [[20]])",
        "decaybench/checkpoint/files.py",
        "        if array.dtype.kind not in kinds or array.ndim != rank or",
        "        if False and",
        "tests/test_hostile_inputs.py -k malformed_state",
    ),
    Mutant(
        "paths-apart",
        "CLI: --output and --checkpoint-dir not checked apart",
        "decaybench/cli/commands.py",
        '    check_apart({"checkpoint_dir": args.checkpoint_dir, "output": args.output})',
        "    pass",
        "tests/test_hostile_inputs.py -k conflicting",
    ),
    Mutant(
        "nan-bits",
        "bits: NaNs alike in bit-for-bit comparisons",
        "decaybench/bits.py",
        "        return np.asarray(bits(a) == bits(b))",
        "        return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))",
        "tests/test_hostile_inputs.py -k nan_payloads",
    ),
    Mutant(
        "graph-order",
        "registry: graph's size-1 update in the seed's order, not Grappler's (lr*x)*2",
        "decaybench/modes/__init__.py",
        '            update_order=("(lr*x)*2", _HOISTED),',
        '            update_order=("lr*(x*2)", _HOISTED),',
        "tests/test_dtypes.py -k update_order",
    ),
    Mutant(
        "half-order",
        "emulation: the 16-bit update ignores the mode's order",
        "decaybench/modes/emulation.py",
        "    a, b = _factors(lr, x, order, lambda p, q: kernel(np.multiply, p, q))",
        '    a, b = _factors(lr, x, "lr*(x*2)", lambda p, q: kernel(np.multiply, p, q))',
        "tests/test_dtypes.py -k update_order",
    ),
    Mutant(
        "xla-bf16-order",
        "registry: XLA reassociates in bfloat16 too",
        "decaybench/modes/__init__.py",
        '_XLA_REORDERS = ("float32", "float64", "float16")',
        "_XLA_REORDERS = DTYPES",
        "tests/properties/test_half_dtypes.py",
    ),
    Mutant(
        "epochs-writable",
        "config: the shared epoch column is writable",
        "decaybench/config.py",
        "    column.setflags(write=False)\n",
        "",
        "tests/test_config.py",
    ),
    Mutant(
        "deadline-generator",
        "audit deadline: a ring during the exit is raised (as a generator's finally did)",
        "decaybench/audit/deadline.py",
        "        if frame is not None and frame.f_code in _OWN_CODE:\n            return\n",
        "",
        "tests/test_audit_deadline.py",
    ),
)


def plant(text: str, old: str, new: str) -> str | None:
    """``text`` with ``old`` replaced by ``new``, or ``None`` when ``old`` is not in it exactly once."""
    return text.replace(old, new) if text.count(old) == 1 else None


def stale_edits(mutant: Mutant, root: Path) -> list[str]:
    """The edits of ``mutant`` whose old text is not exactly once in its file under ``root``."""
    stale = []
    for file, old, _ in mutant.edits:
        path = root / file
        count = path.read_text(encoding="utf-8").count(old) if path.is_file() else 0
        if count != 1:
            stale.append(f"{file}: old text found {count} times")
    return stale


def repository() -> Path:
    return Path(__file__).resolve().parent.parent


def copy_tracked(source: Path, target: Path) -> None:
    """Copy the files git tracks in ``source`` (working-tree contents) to ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=source, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        path = source / name
        if path.is_file():  # a tracked file deleted in the working tree is left out
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / name)


@dataclass
class Outcome:
    status: str  # yes, NO, stale, timeout, bad, flaky
    seconds: float = 0.0
    first: str = ""  # the first failing test (node id), or why


# pytest's exit codes: 1 tests failed, 2 interrupted (a collection error with -x), 3 internal error.
CAUGHT_CODES = (1, 2, 3)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?(?:\[.*?\])?)(?: - .*)?$", re.MULTILINE)


def first_failure(output: str) -> str:
    """The node id of the first test pytest's short summary names.

    >>> first_failure("x\\nFAILED tests/test_a.py::test_b[x - y] - AssertionError: 1\\nERROR tests/c.py\\n")
    'tests/test_a.py::test_b[x - y]'
    >>> first_failure("1 passed")
    ''
    """
    found = _FAILED.search(output)
    return found.group(1) if found else ""


def pytest(
    python: str, copy: Path, arguments: list[str], timeout: float, profile: str, log: Path, stop_first: bool = True
) -> tuple[int | None, str, float]:
    """Run pytest in ``copy`` on ``arguments`` (``-x`` unless not ``stop_first``): (exit code or None on timeout, output, seconds)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HYPOTHESIS_PROFILE": profile,
        # Hypothesis keeps its examples in the copy: a mutant's failures must not reach the checkout's database.
        "HYPOTHESIS_STORAGE_DIRECTORY": str(copy / ".hypothesis"),
    }
    command = [python, "-m", "pytest", "-p", "no:xdist", *(["-x"] if stop_first else []), "-q", *arguments]
    start = time.monotonic()
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=copy, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the tests' subprocesses too
            process.wait()
            code = None
    return code, log.read_text(errors="replace"), time.monotonic() - start


def imports_the_copy(python: str, copy: Path) -> bool:
    """Whether ``python`` with ``PYTHONPATH=copy`` imports the copy's decaybench (not an installed one)."""
    code = "import decaybench; print(decaybench.__file__)"
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([python, "-c", code], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode == 0 and Path(done.stdout.strip()).resolve().is_relative_to(copy.resolve())


def run_mutant(mutant: Mutant, pristine: Path, work: Path, options: argparse.Namespace) -> Outcome:
    stale = stale_edits(mutant, pristine)
    if stale:
        return Outcome("stale", 0.0, "; ".join(stale))
    copy = work / mutant.id / "repo"  # nothing beside it: no ../shared
    shutil.copytree(pristine, copy)
    for file, old, new in mutant.edits:
        path = copy / file
        path.write_text(plant(path.read_text(encoding="utf-8"), old, new) or "", encoding="utf-8")
    code, output, seconds = pytest(options.python, copy, mutant.arguments, options.timeout, options.profile, work / f"{mutant.id}.log")
    if code is None:
        return Outcome("timeout", seconds, f"over {options.timeout:.0f} s")
    if code in CAUGHT_CODES:
        return Outcome("yes", seconds, first_failure(output) or output.strip().splitlines()[-1][:80])
    if code == 0:
        return Outcome("NO", seconds, "all passed")
    return Outcome("bad", seconds, f"pytest exit {code}: " + (output.strip().splitlines() or [""])[-1][:80])


def confirm(outcomes: dict[str, Outcome], pristine: Path, work: Path, options: argparse.Namespace) -> None:
    """Run each caught mutant's first failing test in an unmutated copy; one that fails there too is ``flaky``."""
    nodes = sorted({outcome.first for outcome in outcomes.values() if outcome.status == "yes" and "::" in outcome.first})
    if not nodes:
        return
    copy = work / "unmutated" / "repo"
    shutil.copytree(pristine, copy)
    code, output, _ = pytest(options.python, copy, nodes, options.timeout * 2, options.profile, work / "unmutated.log", stop_first=False)
    if code is None:
        failing = set(nodes)  # cannot tell: none is confirmed
    else:
        failing = set(_FAILED.findall(output)) if code != 0 else set()
    for outcome in outcomes.values():
        if outcome.status == "yes" and outcome.first in failing:
            outcome.status, outcome.first = "flaky", f"{outcome.first} fails unmutated too"


def table(rows: list[tuple[Mutant, Outcome]]) -> str:
    """The report: one row per mutant, aligned columns."""
    header = ("mutant", "plants", "file", "tests", "caught", "seconds", "first failing test")
    lines = [header]
    for mutant, outcome in rows:
        lines.append((mutant.id, mutant.what, mutant.file, mutant.tests, outcome.status, f"{outcome.seconds:.0f}", outcome.first))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, [*widths, 0], strict=True)).rstrip() for line in lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mutants: error: {message}\n")  # one line, no usage block


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and whether each still applies; run nothing")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run this mutant only (repeatable)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's tests (default 600)")
    parser.add_argument("--python", default=sys.executable, help="the Python whose pytest runs the tests (default: this one)")
    parser.add_argument("--profile", default="ci", help="HYPOTHESIS_PROFILE of the test runs (default ci: derandomized)")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies and logs, and say where")
    options = parser.parse_args(argv)
    known = {mutant.id for mutant in MUTANTS}
    unknown = [name for name in options.only if name not in known]
    if unknown:
        parser.error(f"--only: no mutant {unknown[0]!r}; --list shows them")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    root = repository()
    chosen = [mutant for mutant in MUTANTS if not options.only or mutant.id in options.only]
    if options.list:  # exit 1 when a mutant is stale
        stale = {mutant.id: stale_edits(mutant, root) for mutant in chosen}
        for mutant in chosen:
            print(f"{mutant.id:24} {'STALE' if stale[mutant.id] else 'ok':5}  {mutant.file:34} {mutant.what}")
            for reason in stale[mutant.id]:
                print(f"{'':24} {reason}")
        return 1 if any(stale.values()) else 0
    work = Path(tempfile.mkdtemp(prefix="decaybench-mutants-"))
    try:
        pristine = work / "pristine"
        copy_tracked(root, pristine)
        if not imports_the_copy(options.python, pristine):
            print(f"mutants: {options.python} does not import decaybench from the copy {pristine}", file=sys.stderr)
            return 2
        outcomes: dict[str, Outcome] = {}
        for mutant in chosen:
            print(f"{mutant.id}: {mutant.what} ...", end=" ", flush=True)
            outcomes[mutant.id] = run_mutant(mutant, pristine, work, options)
            print(f"{outcomes[mutant.id].status} ({outcomes[mutant.id].seconds:.0f} s)", flush=True)
            shutil.rmtree(work / mutant.id, ignore_errors=True)
        confirm(outcomes, pristine, work, options)
    finally:
        if options.keep:
            print(f"copies and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = table([(mutant, outcomes[mutant.id]) for mutant in chosen])
    caught = sum(outcome.status == "yes" for outcome in outcomes.values())
    summary = f"{caught} of {len(chosen)} mutants caught"
    print(f"\n{report}\n\n{summary}")
    if options.output:
        options.output.write_text(f"{report}\n\n{summary}\n", encoding="utf-8")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
