"""What the modes' loops share, and no mode: the scaffolding beside :mod:`decaybench.modes`.

* :mod:`.recording`: the per-epoch Python loops' rows and checkpoints (``eager``, ``function``,
  ``keras``, ``fit``, the distributed modes).
* :mod:`.compiled_loop`: the one compiled loop over epochs, built from a mode's step
  (``graph``, ``xla``, ``xla-exact``, and the sweeps of :mod:`decaybench.sweep_loops`).
* :mod:`.unrolled`: that loop under XLA when a chunk records every epoch: the schedule as one
  vector, the steps unrolled.
* :mod:`.scheduled`: that loop under XLA for a shorter chunk that records every epoch: the
  schedule as one vector, one step an iteration.
* :mod:`.chunks`: that loop run chunk by chunk, for Ctrl-C, progress and checkpoints.
* :mod:`.fit_resume`: ``model.fit``'s checkpoints (modes ``fit`` and ``callback``).
"""
