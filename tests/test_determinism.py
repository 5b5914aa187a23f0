"""The same configuration gives bit-identical traces: 20 times in one process, and across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from tests.helpers import fingerprint

# The vector is long enough that Eigen's reduction runs on 2 threads (n >= 108,388 in float32).
CONFIGS = {
    "seed": DecayConfig(),
    "threaded-reduction": DecayConfig(size=150_000, epochs=6, staircase=True, decay_steps=2, w0=-3.25),
}


ALL_MODES = """
    import json, sys
    from decaybench.modes.distributed.training import setup_devices
    setup_devices()  # before any op, as the CLI does: mirrored runs in this process
    from decaybench import DecayConfig, MODES, run
    from tests.helpers import fingerprint
    configs = {name: DecayConfig.from_dict(config) for name, config in json.loads(sys.argv[1]).items()}
    print(json.dumps({name: {mode: fingerprint(run(config, mode)) for mode in MODES} for name, config in configs.items()}))
"""


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("mode", MODES)
def test_twenty_repeats_in_one_process(mode: str, name: str) -> None:
    config = CONFIGS[name]
    first = fingerprint(run(config, mode))
    for _ in range(19):
        assert fingerprint(run(config, mode)) == first


def test_two_processes_per_mode() -> None:
    # Both configurations in each process: a process's start (TensorFlow, multiworker's cluster) is most of its time.
    configs = json.dumps({name: config.to_dict() for name, config in CONFIGS.items()})
    outputs = [
        subprocess.run(
            [sys.executable, "-c", textwrap.dedent(ALL_MODES), configs],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout
        for _ in range(2)
    ]
    first, second = (json.loads(output) for output in outputs)
    assert sorted(first) == sorted(CONFIGS)
    for name, config in CONFIGS.items():
        assert sorted(first[name]) == sorted(MODES)
        for mode in MODES:
            assert first[name][mode] == second[name][mode], (name, mode)
            assert first[name][mode] == fingerprint(run(config, mode)), (name, mode)  # and this process agrees
