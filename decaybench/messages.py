"""Every line decaybench writes on stderr, escaped so that it stays one line whatever it quotes.

Errors, notices (``resumed at epoch k from DIR``), progress and a cluster's lines quote what the
user gave: a path or a ``TF_CONFIG`` address may hold a newline, an escape sequence that moves a
terminal's cursor, or a Unicode line separator. :func:`escape` writes each such character as
Python writes it in a string literal, and :func:`say` prints one escaped line::

    escape(text) = text with every c in Cc (controls) or in {U+2028, U+2029} replaced by repr(c)[1:-1]

>>> escape("resumed at epoch 4 from run\\n1\\x1b[2J")
'resumed at epoch 4 from run\\\\n1\\\\x1b[2J'
>>> escape("naïve ü ok")
'naïve ü ok'
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

__all__ = ["escape", "say"]

# C0 and C1 controls, DEL, and the two Unicode line breaks that are not controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` with every control character and line separator written as its escape (``\\n``, ``\\x1b``)."""
    return _UNSAFE.sub(lambda match: repr(match.group())[1:-1], text)


def say(line: str, stream: TextIO | None = None) -> None:
    """Write ``line`` escaped, then one newline, to ``stream`` (default: the current ``sys.stderr``)."""
    target = sys.stderr if stream is None else stream
    target.write(escape(line) + "\n")
    target.flush()
