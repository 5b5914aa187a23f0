"""``python -m tools.compat``: ``collect`` inside a tox env, ``build`` of ``docs/compat.md`` after the matrix."""

import sys

from tools.compat import main

sys.exit(main())
