"""``DecayConfig``: what to run. Its defaults are the seed's.

>>> DecayConfig()
DecayConfig(initial_learning_rate=0.2, decay_rate=0.99, decay_steps=1, staircase=False, epochs=40,
            w0=5.0, dtype='float32', size=1, record_every=1, steps_per_epoch=1, transition_begin=0,
            end_value=None, policy=None)
>>> DecayConfig(decay_steps=True)
Traceback (most recent call last):
...
decaybench.validation.InvalidType: decay_steps must be a positive integer, got True
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.rounding import HALF_DTYPES, finfo
from decaybench.schedule import Schedule
from decaybench.validation import DTYPES, POLICIES, InvalidValue, check_dtype, check_fields, check_finite, check_policy, check_positive_int

__all__ = ["DecayConfig"]

# The schedule's own rules, so that a schedule argument is checked by one function everywhere.
_SCHEDULE_RULES: dict[str, Callable[[Any], Any]] = {field.name: field.metadata["check"] for field in dataclasses.fields(Schedule)}


def _field(
    default: Any, check: Callable[[Any], Any], flag: str, help: str, metavar: str | None = None, choices: Any = None, type: Any = None
) -> Any:
    # The CLI builds each flag from this metadata: its name (also in error messages), help, metavar and
    # choices; the default comes from the field and is added to the help of numeric flags.
    metadata = {"check": check, "flag": flag, "help": help, "metavar": metavar, "choices": choices, "type": type}
    return dataclasses.field(default=default, metadata=metadata)


# Fields added after the seed's nine, with the defaults that to_dict leaves out.
_OPTIONAL: dict[str, Any] = {"steps_per_epoch": 1, "transition_begin": 0, "end_value": None, "policy": None}


# Epoch columns of up to this many rows are built once and shared. Building one is an allocation
# and a fill on the critical path of every run: 0.6 ms of a 1e6-epoch xla run's 15 ms (cProfile;
# the native floor has no such column). Bounded, so that a long run's column dies with its trace:
# at most 4 columns of 16 MB are kept.
SHARED_EPOCHS = 2**21


def _recorded_column(epochs: int, every: int) -> np.ndarray:
    """The read-only recorded epochs of a run of ``epochs`` recording every ``every``-th."""
    kept = np.arange(0, epochs, every, dtype=np.int64)
    column = kept if kept[-1] == epochs - 1 else np.append(kept, epochs - 1)
    column.setflags(write=False)
    return column


_shared_column = functools.lru_cache(maxsize=4)(_recorded_column)


@dataclass(frozen=True)
class DecayConfig:
    """One training run of ``w -= lr(epoch) * d/dw sum((w + 1)**2)``.

    Attributes:
        initial_learning_rate, decay_rate, decay_steps, staircase: the schedule
            ``lr(e) = initial_learning_rate * decay_rate ** (e / decay_steps)``.
        epochs: number of updates; epoch ``e`` uses ``lr(e)``.
        w0: the starting value of every element of ``w``.
        dtype: ``"float32"`` (the seed's), ``"float64"``, or the 16-bit ``"float16"`` and
            ``"bfloat16"``, whose ``w0`` must be finite in that dtype (float16: ``|w0| <= 65504``).
        size: the number of elements of ``w``; the loss sums over them.
        record_every: keep every K-th epoch in the trace (plus the first and the last).
        steps_per_epoch: optimizer steps per epoch on the same sample; only modes ``fit`` and
            ``callback`` run more than 1 (:mod:`decaybench.steps`), the others refuse it.
        transition_begin, end_value: optax's options of the schedule (:mod:`decaybench.schedule`).
        policy: ``None``, or a Keras mixed-precision policy (``"mixed_float16"``, ``"mixed_bfloat16"``)
            that the Keras modes run under: variables (``dtype``, float32) apart from the compute
            dtype, and loss scaling under ``mixed_float16`` (:mod:`decaybench.loss_scaling`).
    """

    initial_learning_rate: float = _field(0.2, _SCHEDULE_RULES["initial_learning_rate"], "--initial-lr", "lr at epoch 0")
    decay_rate: float = _field(0.99, _SCHEDULE_RULES["decay_rate"], "--decay-rate", "factor per decay_steps epochs")
    decay_steps: int = _field(1, _SCHEDULE_RULES["decay_steps"], "--decay-steps", "epochs per decay")
    staircase: bool = _field(False, _SCHEDULE_RULES["staircase"], "--staircase", "decay in whole steps: epoch // decay_steps")
    epochs: int = _field(40, functools.partial(check_positive_int, "epochs"), "--epochs", "number of updates")
    w0: float = _field(5.0, functools.partial(check_finite, "w0"), "--w0", "initial value of every element of w")
    dtype: str = _field("float32", check_dtype, "--dtype", "float32 (the seed's), float64, float16 or bfloat16", choices=DTYPES)
    size: int = _field(1, functools.partial(check_positive_int, "size"), "--size", "number of elements of w")
    record_every: int = _field(
        1, functools.partial(check_positive_int, "record_every"), "--record-every", "keep every K-th epoch, the first and the last", "K"
    )
    steps_per_epoch: int = _field(
        1,
        functools.partial(check_positive_int, "steps_per_epoch"),
        "--steps-per-epoch",
        "optimizer steps per epoch (modes fit, callback)",
        "S",
    )
    transition_begin: int = _field(
        0, _SCHEDULE_RULES["transition_begin"], "--transition-begin", "steps at the initial rate before decaying", "B"
    )
    end_value: float | None = _field(
        None, _SCHEDULE_RULES["end_value"], "--end-value", "lowest rate when decaying, highest when growing", "V", type=float
    )

    policy: str | None = _field(
        None, check_policy, "--policy", "Keras mixed-precision policy (modes keras, fit, callback)", choices=POLICIES, type=str
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.policy is not None and self.dtype != "float32":
            raise InvalidValue("policy", self.policy, f"keeps the variables in float32, so it needs dtype float32, not {self.dtype}")
        if self.dtype in HALF_DTYPES and abs(self.w0) > (largest := float(finfo(self.dtype).max)):  # w0 would start as inf
            raise InvalidValue("w0", self.w0, f"must be within +-{largest:g} ({self.dtype}'s largest finite value) with dtype {self.dtype}")

    @functools.cached_property
    def schedule(self) -> Schedule:
        """The schedule fields as a :class:`~decaybench.schedule.Schedule`, built once per configuration.

        Kept: a sweep reads it per configuration, and validating the fields at every read would be a
        large share of ``run_sweep``'s Python time (docs/benchmarks.md, ``sweep``). Being cached, it
        is in the instance's ``__dict__``: copy a configuration with ``dataclasses.replace`` or
        ``dataclasses.asdict``, not ``vars()``.

        >>> DecayConfig(decay_steps=5).schedule
        Schedule(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.99, staircase=False, transition_begin=0, end_value=None)
        """
        # __post_init__ checked these fields by Schedule's own rules (_SCHEDULE_RULES): copied, not checked twice.
        schedule = object.__new__(Schedule)
        for name in _SCHEDULE_RULES:
            object.__setattr__(schedule, name, getattr(self, name))
        return schedule

    @property
    def recorded_count(self) -> int:
        """How many epochs the trace keeps (the length of :meth:`recorded`), without building it."""
        return self.recorded_before(self.epochs)

    def recorded_before(self, epoch: int) -> int:
        """How many recorded epochs lie below ``epoch``: ``ceil(epoch / K)`` multiples of K, and at
        ``epoch == epochs`` the last epoch when it is no multiple of K.

        >>> [DecayConfig(epochs=10, record_every=4).recorded_before(epoch) for epoch in (0, 1, 5, 9, 10)]
        [0, 1, 2, 3, 4]
        """
        kept = (epoch + self.record_every - 1) // self.record_every
        return kept + (1 if epoch == self.epochs and (self.epochs - 1) % self.record_every else 0)

    def recorded(self) -> np.ndarray:
        """The recorded epoch numbers, int64: 0, K, 2K, ... and always the last epoch.

        The array is read-only: a column of up to :data:`SHARED_EPOCHS` rows is built once and
        shared by every configuration with the same ``epochs`` and ``record_every`` (and so by their
        traces, which never write into it).

        >>> DecayConfig(epochs=10, record_every=4).recorded().tolist()
        [0, 4, 8, 9]
        >>> DecayConfig(epochs=10).recorded() is DecayConfig(epochs=10, decay_rate=0.5).recorded()
        True
        """
        shared = self.recorded_count <= SHARED_EPOCHS
        return (_shared_column if shared else _recorded_column)(self.epochs, self.record_every)

    @property
    def trace_bytes(self) -> int:
        """Bytes of the recorded trace: per row an int64 epoch, ``size`` w values, a loss, a float64 lr."""
        itemsize = np.dtype(self.dtype).itemsize
        return self.recorded_count * (8 + (self.size + 1) * itemsize + 8)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready); fields added since the seed's nine only when set,
        so the seed's JSON (golden files, ``run --format json``, ``verify``) stays what it was."""
        fields = dataclasses.asdict(self)
        return {name: value for name, value in fields.items() if name not in _OPTIONAL or value != _OPTIONAL[name]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecayConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}")
        return cls(**data)

    @property
    def is_seed(self) -> bool:
        """True when this is the course note's configuration (record_every aside)."""
        return dataclasses.replace(self, record_every=1) == DecayConfig()
