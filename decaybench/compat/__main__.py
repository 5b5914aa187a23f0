"""``python -m decaybench.compat``: ``collect`` inside a tox env, ``build`` of ``docs/compat.md`` after the matrix."""

import sys

from decaybench.cli.tools import compat_main

sys.exit(compat_main())
