"""The tools' command lines: one decaybench :class:`~decaybench.cli.parsing.Command` each, without a subcommand to name.

>>> from decaybench.cli.parsing import Command, Flag, run_parser
>>> command = Command("echo", lambda args: len(args.word), help="", description="Exit with the word's length.", flags=(Flag("word"),))
>>> run_parser(tool_parser("echo", command), (command,), ["four"])
4
"""

from __future__ import annotations

import argparse

from decaybench.cli.parsing import Command, Parser, examples, fill

__all__ = ["tool_parser"]


def tool_parser(prog: str, command: Command) -> Parser:
    """A parser for ``command`` alone, its flags at the top level."""
    epilog = examples(*command.examples) if command.examples else None
    parser = Parser(prog=prog, description=command.description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    fill(parser, command)
    return parser
