"""How every command line of decaybench is built: declared commands and flags, one-line errors.

A :class:`Command` declares a subcommand (its texts, its flags, its handler); :func:`build_parser`
turns a list of them into one parser and :func:`run_parser` runs it. ``decaybench`` is built this
way, and so are the maintainer tools behind ``make`` (``tools/``, not installed).

The configuration flags are not declared here: :func:`config_flags` generates them from the fields
of :class:`~decaybench.config.DecayConfig` and their metadata (flag, help, metavar, choices), with
the field's default. A new field of ``DecayConfig`` is a new flag, in ``--help`` and in errors:

>>> [flag.option for flag in config_flags()][:3]
['--initial-lr', '--decay-rate', '--decay-steps']
>>> config_flags()[0].options["help"]
'lr at epoch 0 (0.2)'
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from decaybench.config import DecayConfig
from decaybench.files import OutputError
from decaybench.golden import GoldenError
from decaybench.messages import say
from decaybench.modes.distributed.faults import DistributedError
from decaybench.stopping import Terminated, stop_on_signals
from decaybench.validation import ArgumentError

__all__ = ["Command", "Flag", "UsageError", "build_parser", "config_flags", "config_from", "examples", "fill", "run_parser"]

CONFIG_GROUP = "configuration (defaults: the seed's)"


class UsageError(Exception):
    """A user error to report in one line and exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage too; our contract is one line on stderr.
        raise UsageError(message)


@dataclass(frozen=True)
class Flag:
    """One option as the user types it, and ``add_argument``'s keyword arguments."""

    option: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments (and the argument name that errors carry)."""
        return str(self.options.get("dest", self.option.lstrip("-").replace("-", "_")))


@dataclass(frozen=True)
class Command:
    """One subcommand: ``config`` adds the configuration flags and ``runtime`` flags first."""

    name: str
    handler: Callable[[argparse.Namespace], int]
    help: str
    description: str
    examples: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    config: bool = False
    runtime: tuple[Flag, ...] = ()


def examples(*lines: str) -> str:
    """The epilog every help text ends with."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def config_flags() -> tuple[Flag, ...]:
    """One flag per field of ``DecayConfig``; numeric flags show their default in the help."""
    types = typing.get_type_hints(DecayConfig)
    flags = []
    for config_field in dataclasses.fields(DecayConfig):
        meta, default = config_field.metadata, config_field.default
        options: dict[str, Any] = {"dest": config_field.name, "default": default}
        if types[config_field.name] is bool:
            options |= {"action": "store_true", "help": meta["help"]}
        elif meta["choices"]:
            options |= {"type": meta.get("type") or types[config_field.name], "choices": meta["choices"], "help": meta["help"]}
        else:
            metavar = meta["metavar"] or meta["flag"].lstrip("-").upper().replace("-", "_")
            options |= {"type": meta.get("type") or types[config_field.name], "metavar": metavar, "help": f"{meta['help']} ({default})"}
        flags.append(Flag(meta["flag"], options))
    return tuple(flags)


def config_from(args: argparse.Namespace) -> DecayConfig:
    """The ``DecayConfig`` the configuration flags describe (validated by ``DecayConfig`` itself)."""
    return DecayConfig(**{config_field.name: getattr(args, config_field.name) for config_field in dataclasses.fields(DecayConfig)})


def _add(parser: argparse._ActionsContainer, flags: Iterable[Flag]) -> None:
    for flag in flags:
        parser.add_argument(flag.option, **flag.options)


def fill(parser: argparse.ArgumentParser, command: Command) -> None:
    """Add ``command``'s flags and handler to ``parser``, the configuration group first (argparse lists options as added)."""
    if command.config:
        _add(parser.add_argument_group(CONFIG_GROUP), config_flags())
    _add(parser, (*command.runtime, *command.flags))
    parser.set_defaults(handler=command.handler)


def _command_flags(command: Command) -> tuple[Flag, ...]:
    return (*(config_flags() if command.config else ()), *command.runtime, *command.flags)


def build_parser(prog: str, description: str, commands: Sequence[Command], epilog: Sequence[str] = ()) -> Parser:
    """A parser with one subcommand per :class:`Command`, each with an example in its help."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog=prog, description=description, epilog=examples(*epilog) if epilog else None, formatter_class=formatter)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in commands:
        epilog_text = examples(*command.examples) if command.examples else None
        sub = subparsers.add_parser(
            command.name, help=command.help, description=command.description, epilog=epilog_text, formatter_class=formatter
        )
        fill(sub, command)
    return parser


def flag_names(commands: Iterable[Command]) -> dict[str, str]:
    """The flag a user typed for each argument name, so that errors name what the user can fix."""
    return {flag.dest: flag.option for command in commands for flag in _command_flags(command)}


def run_parser(parser: Parser, commands: Sequence[Command], argv: Sequence[str] | None, errors: tuple[type[Exception], ...] = ()) -> int:
    """Parse, run the handler; return its status, or 2 after one line on stderr, or 130 on Ctrl-C.

    ``errors`` are further exception types reported by their message alone.
    """
    reported: tuple[type[Exception], ...] = (UsageError, GoldenError, *errors)
    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        with stop_on_signals():
            return handler(args)
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except ArgumentError as error:
        message = f"{flag_names(commands).get(error.argument, error.argument)}: {error.rule}, got {error.value!r}"
    except OutputError as error:
        message = f"--output: {error}"
    except KeyboardInterrupt:
        say(f"{parser.prog}: interrupted")
        return 130
    except Terminated as stop:
        say(f"{parser.prog}: terminated by SIGTERM{f'; {stop.where}' if stop.where else ''}")
        return stop.status
    except DistributedError as error:  # one line on a real cluster; the local cluster adds its worker's stderr, line by line
        first, *tail = str(error).split("\n")
        say(f"{parser.prog}: error: {first}")
        for line in tail:
            say(line)
        return error.status
    except reported as error:
        message = str(error)
    say(f"{parser.prog}: error: {message}")  # one line whatever the user typed: control characters escaped
    return 2
