"""Maintainer tools behind ``make``: they write the checkout's docs and are not installed with decaybench.

* ``python -m tools.docs [--update]``: the README's generated blocks (``make docs``, and a test);
* ``python -m tools.compat collect|build``: one tox env's facts, then ``docs/compat.md`` (``make compat``);
* ``python -m tools.bench_docs --output FILE [--notes FILE] [--quick]``: ``docs/benchmarks.md`` (``make bench-docs``).

Each runs from the checkout's root (``python -m`` puts it on ``sys.path``) and builds its command line
with decaybench's own parser (:mod:`decaybench.cli.parsing`): bad input is one line on stderr and status 2.
"""
