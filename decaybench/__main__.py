"""``python -m decaybench``: the same as the ``decaybench`` command.

Both run :func:`console` (the command's entry point in ``pyproject.toml``).
"""

from __future__ import annotations

import sys

__all__ = ["console"]


def console() -> int:
    """The ``decaybench`` command: :func:`decaybench.cli.main`, after importing it.

    The import takes a second or two (NumPy, the registry) before the CLI's signal handlers are in
    place: a Ctrl-C then exits 130 with the CLI's one line, as later, not with a traceback.
    """
    try:
        from decaybench.cli import main  # the CLI's modules: what a Ctrl-C can land in
    except KeyboardInterrupt:
        sys.stderr.write("decaybench: interrupted\n")
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(console())
