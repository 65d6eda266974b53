"""`make bench` end to end, tiny durations: real DAL, workers, FastAPI server, load generator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.ssh.sshd import sshd_missing_reason
from tests.support.procs import REPO

GOAL_KEYS = {
    "throughput_c32_vs_fastapi",
    "p50_c1_vs_fastapi",
    "binary_b256_vs_ort",
    "logging_on_vs_off",
    "ssh_vs_direct",
}


@pytest.mark.slow
def test_one_short_round_prints_the_table_and_ends_with_the_json_line() -> None:
    argv = [sys.executable, str(REPO / "bench" / "run.py"), "--rounds", "1", "--seconds", "1"]
    argv += ["--ort-seconds", "0.1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    doc = json.loads(lines[-1])
    assert GOAL_KEYS | {"load_generator", "raw"} == set(doc)
    no_sshd = sshd_missing_reason()
    measured = GOAL_KEYS - {"ssh_vs_direct"} if no_sshd else GOAL_KEYS
    for key in measured:
        assert isinstance(doc[key], float), (key, doc)
        assert doc[key] > 0, (key, doc)
    assert doc["raw"]["failed"] == {}
    assert doc["raw"]["median"]["mer_bin256_rows"] > 0
    table = "\n".join(lines[:-1])
    assert "throughput, 32 clients, JSON, 1 row" in table
    assert "note: load generator:" in table
    if no_sshd:
        assert doc["ssh_vs_direct"] is None
        assert f"ssh_vs_direct: not measured ({no_sshd})" in table
    else:
        assert "ssh_vs_direct: gateway -> sshd" in table
