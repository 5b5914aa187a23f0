"""The pytest-benchmark suite, one file per group, over the public API (``pytest --benchmark-only``, ``decaybench bench``)."""
