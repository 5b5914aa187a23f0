"""decaybench.compile_cache: XLA's persistent cache, opt in by flag or environment; it never changes a bit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decaybench.compile_cache import ENVIRONMENT, use_compile_cache, with_cache_flag
from decaybench.trace import Trace
from decaybench.validation import InvalidValue

if TYPE_CHECKING:
    from tests.conftest import Command

CONFIG = ("--epochs", "300", "--size", "3", "--dtype", "float64", "--format", "json")


def _entries(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir()}


def test_a_new_process_loads_what_another_compiled_and_its_trace_is_the_same(decaybench: Command, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    environ = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT, "TF_XLA_FLAGS")}
    # The first process compiles and saves (the flag); the second, told by the environment, loads.
    first = decaybench("run", "--mode", "xla-exact", *CONFIG, "--compile-cache", str(cache), env=environ)
    assert first.returncode == 0, first.stderr
    saved = _entries(cache)
    assert saved and all(name.startswith("xla_compile_cache") for name in saved)
    # TensorFlow's persistor says what it loads at verbosity 1.
    logging = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_executable_persistor=1"}
    second = decaybench("run", "--mode", "xla-exact", *CONFIG, env={**environ, ENVIRONMENT: str(cache), **logging})
    assert second.returncode == 0, second.stderr
    assert "Loading cached entry for: __inference_" in second.stderr
    assert _entries(cache) == saved  # loaded, not compiled and saved again
    # The first process compiled (its cache was empty), the second loaded: the same bits.
    compiled, loaded = Trace.from_json(first.stdout), Trace.from_json(second.stdout)
    assert compiled.identical(loaded) and len(loaded.w) == 300


def test_a_bad_cache_directory_is_refused_in_one_line(decaybench: Command, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, out, err = decaybench.main("run", "--mode", "xla", "--compile-cache", str(blocker / "cache"))
    assert status == 2 and out == ""
    assert err.startswith("decaybench: error: --compile-cache: must be a directory that can be created") and str(blocker) in err


def test_the_flag_is_added_once_to_what_tf_xla_flags_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    use_compile_cache(tmp_path)
    use_compile_cache(tmp_path)
    assert os.environ["TF_XLA_FLAGS"] == with_cache_flag("--tf_xla_auto_jit=0", str(tmp_path.resolve()))
    assert os.environ["TF_XLA_FLAGS"].count("--tf_xla_persistent_cache_directory=") == 1
    with pytest.raises(InvalidValue, match="DECAYBENCH_COMPILE_CACHE must be a directory"):
        use_compile_cache("", ENVIRONMENT)
