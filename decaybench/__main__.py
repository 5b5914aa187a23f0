"""``python -m decaybench``: the same as the ``decaybench`` command."""

from decaybench.cli import main

raise SystemExit(main())
