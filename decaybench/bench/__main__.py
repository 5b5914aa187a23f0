"""``python -m decaybench.bench``: regenerate ``docs/benchmarks.md`` (``make bench-docs``)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from decaybench.cli.tools import bench_docs_main

sys.exit(bench_docs_main())
