"""Fuzzing: arbitrary text into the seed-text parser, arbitrary flags into the CLI."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from decaybench import cli
from decaybench.loops import MODES
from decaybench.trace import SeedText, parse_lines

SEED_LINE = "After 3 epoch,w is -0.191126,loss is 1.747547,lr is 0.194060"

lines = st.one_of(
    st.text(max_size=120),
    st.just(SEED_LINE),
    st.just("..."),
    st.builds(lambda a, b: SEED_LINE[:a] + b + SEED_LINE[a:], st.integers(0, len(SEED_LINE)), st.text(max_size=5)),
    st.from_regex(
        r"After [0-9]{1,30} epoch,w is -?[0-9]{1,50}\.[0-9]{6},loss is (nan|inf|[0-9]+\.[0-9]{6}),lr is [0-9]\.[0-9]{6}", fullmatch=True
    ),
)


@given(st.lists(lines, max_size=12).map("\n".join) | st.text())
@example("After 99999999999999999999 epoch,w is 1.000000,loss is 1.000000,lr is 1.000000")
@example("After 1 epoch,w is 1.000000,loss is 1.000000,lr is 1.000000\r\n...\r\n")
@example("After ٣ epoch,w is 1.000000,loss is 1.000000,lr is 1.000000")
def test_parser_returns_a_trace_or_a_clear_value_error(text: str) -> None:
    try:
        parsed = parse_lines(text, source="fuzz.txt")
    except ValueError as error:
        assert str(error).startswith("fuzz.txt:")
    else:
        assert isinstance(parsed, SeedText) and len(parsed.epoch) == len(parsed.lines)


VALUES = st.sampled_from(["0", "1", "2", "3", "-1", "0.5", "1e400", "nan", "inf", "-inf", "x", "", "True", "1.5", "10000000000000"])
FLAGS = {
    "--initial-lr": VALUES,
    "--decay-rate": VALUES,
    "--decay-steps": VALUES,
    "--epochs": st.sampled_from(["1", "3", "0", "-2", "2.5", "x", "10000000000000"]),
    "--w0": VALUES,
    "--size": st.sampled_from(["1", "2", "0", "-1", "x"]),
    "--record-every": st.sampled_from(["1", "2", "0", "x"]),
    "--dtype": st.sampled_from(["float32", "float64", "float16", "bfloat16", "float8"]),
    "--mode": st.sampled_from([*MODES, "warp"]),
    "--format": st.sampled_from(["text", "csv", "json", "xml"]),
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    args = ["run"]
    for flag in draw(st.lists(st.sampled_from(sorted(FLAGS)), unique=True, max_size=6)):
        args += [flag, draw(FLAGS[flag])]
    if draw(st.booleans()):
        args.append("--staircase")
    if draw(st.booleans()):
        args.append(draw(st.sampled_from(["--output=OUT", "--output=/no/such/dir/x", "--bogus", "--epochs"])))
    return args


@settings(max_examples=max(20, settings.default.max_examples // 5), suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
@example(["run", "--initial-lr", "1e400"])
@example(["run", "--decay-rate", "3", "--epochs", "3"])
def test_cli_exits_0_or_2_and_never_with_a_traceback(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        args = [arg.replace("OUT", str(Path(directory) / "out")) for arg in args]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(args)
        assert status in (0, 2), (status, err.getvalue())
        assert "Traceback" not in err.getvalue()
        if status == 2:
            assert out.getvalue() == "" and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
            assert not (Path(directory) / "out").exists()
