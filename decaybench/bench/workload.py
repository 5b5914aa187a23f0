"""What a benchmark is: a :class:`Workload`, its shape, and where it may run (CPU or GPU)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from decaybench.config import DecayConfig

GROUPS = ("seed", "long", "vector", "schedule", "compile", "sweep", "checkpoint")
DEVICES = ("cpu", "gpu")
KINDS = ("mode", "peer", "floor", "reference", "baseline")

SEED = DecayConfig()
LONG_EPOCHS = (1_000, 100_000, 1_000_000)
# The long traces' schedule: lr 0.01 falling by 0.99999 an epoch (0.01 * e**-10 after 1e6 epochs),
# so that every value of the trace stays a normal float and the native floor applies.
LONG_LR, LONG_RATE = 0.01, 0.99999
# The limit for long traces (decaybench.bench.native), and the suffix of a float64 row's name.
NATIVE = "native loop"
FLOAT64 = " float64"
VECTOR_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
SCHEDULE_STEPS = 10_000_000
SWEEP_CONFIGS = 1_000
SWEEP_EPOCHS = 1_000
# The grid rows' (cells, epochs): the seed's 40 epochs on a 50 x 50 grid, and 1,000 epochs on 100 x 100.
GRID_SHAPES = ((2_500, 40), (10_000, 1_000))
# The seed's two optax rows: optax's own float32 schedule, and the float64 schedule under jax x64
# rounded once to float32 (the like-for-like peer of our modes); and run()'s bare compiled call.
OPTAX_FLOAT32 = "optax float32"
OPTAX_FLOAT64 = "optax float64"
XLA_CALL = "xla compiled call"
# A step reads w and writes w: two passes over its bytes, as many as a copy makes.
STEP_PASSES = 2
# The shape a slow workload's builder gets in the untimed run: epochs, configurations or steps.
SMALL = 12


class Unavailable(Exception):
    """A workload cannot run here (no GPU, a peer's library missing); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


Call = Callable[[], Any]


@dataclass(frozen=True)
class Workload:
    """One thing to time.

    Attributes:
        group, name, kind: the group, the implementation, and what it is: ``mode`` (ours),
            ``peer`` (another library), ``floor`` (the least work the job needs), ``reference``
            (the float64 reference) or ``baseline`` (what a sweep replaces).
        device: ``cpu`` or ``gpu``.
        setup: builds what is timed (allocates, traces, compiles) and returns the callable to
            time; raises :class:`Unavailable`. Its first call is a warm-up, untimed (it may trace,
            compile or touch new memory); each later call is one sample.
        epochs, size, configs: the workload's shape.
        steps: units of work per call (epochs, elements or config-steps), for ns per step.
        bytes_moved: bytes a call must move at least (vector: two passes over ``w``).
        fresh: each round calls ``setup`` first, untimed (first-call costs).
        reports: the ``extra_info`` key under which each timed call's return value is kept (a
            new process's own first-call seconds).
        slow: a round takes seconds (a long call, or a new interpreter's start): left out of
            ``--quick``; the untimed run (plain ``pytest``) calls :attr:`small` instead.
        small: for a slow workload, its ``setup`` built by the same builder on a small shape: what
            plain ``pytest`` runs once, so that the workload cannot rot.
        mode: the mode it runs, when the name says more (``xla sweep``).
        host_only: runs on the host whatever the device; its GPU row skips.
        interleaved: ``(name, setup)`` of another implementation, called and timed just before
            each round of this one: a ratio of the two is then free of the machine's drift
            between workloads timed one after the other (every ratio target).
    """

    group: str
    name: str
    kind: str
    device: str
    setup: Callable[[], Call] = field(repr=False, compare=False)
    epochs: int | None = None
    size: int | None = None
    configs: int | None = None
    steps: int = 1
    bytes_moved: int | None = None
    fresh: bool = False
    reports: str | None = None
    slow: bool = False
    host_only: bool = False
    note: str = ""
    mode: str | None = None
    interleaved: tuple[str, Callable[[], Call]] | None = field(default=None, repr=False, compare=False)
    small: Callable[[], Call] | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        shape = "-".join(f"{key}{value:g}" for key, value in (("e", self.epochs), ("n", self.size), ("c", self.configs)) if value)
        return f"{self.group}-{self.name}-{self.device}-{shape}".replace(" ", "_")

    @property
    def case(self) -> tuple[str, str, int | None, int | None, int | None]:
        """What is compared with what: same group, device and shape."""
        return (self.group, self.device, self.epochs, self.size, self.configs)

    def info(self) -> dict[str, Any]:
        """``extra_info`` for pytest-benchmark: what was measured."""
        return {
            "group": self.group,
            "implementation": self.name,
            "kind": self.kind,
            "mode": self.mode or (self.name if self.kind == "mode" else None),
            "epochs": self.epochs,
            "size": self.size,
            "configs": self.configs,
            "steps": self.steps,
            "device": self.device,
            "tensorflow": _version("tensorflow"),
            "note": self.note,
            "interleaved_with": None if self.interleaved is None else self.interleaved[0],
        }


def long_config(epochs: int, dtype: str = "float32") -> DecayConfig:
    """The long traces' configuration: ``epochs`` epochs at lr :data:`LONG_LR`, decaying by :data:`LONG_RATE` an epoch."""
    return DecayConfig(epochs=epochs, dtype=dtype, initial_learning_rate=LONG_LR, decay_rate=LONG_RATE)


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


# ---- devices ----------------------------------------------------------------------------------


def unavailable(workload: Workload) -> str | None:
    """Why ``workload`` cannot run here, or ``None``."""
    if workload.device == "gpu":
        if workload.host_only:
            return f"{workload.name} runs on the host only; its cpu row is the comparison"
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            return "TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is empty)"
    return None


def _placed(device: str, build: Callable[[], Call]) -> Callable[[], Call]:
    """Build and call under ``tf.device``; on a GPU, wait for the device before the clock stops."""

    def setup() -> Call:
        import tensorflow as tf

        name = "/GPU:0" if device == "gpu" else "/CPU:0"
        with tf.device(name):
            target = build()

        def call() -> Any:
            with tf.device(name):
                result = target()
            if device == "gpu":
                tf.test.experimental.sync_devices()
            return result

        return call

    return setup


def _jax_device(device: str) -> Any:
    try:
        import jax
    except ImportError as error:
        raise Unavailable(f"cannot import jax ({error}); install the peers extra") from None
    try:
        return jax.devices("gpu" if device == "gpu" else "cpu")[0]
    except RuntimeError as error:
        raise Unavailable(f"jax has no {device} ({error})") from None
