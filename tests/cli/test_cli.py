"""The command line: bad input exits 2 naming the input, before any flow run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefect_quantum.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "ghz:200"], "circuits"),
        (["run", "ghz:3", "--shots", "0"], "shots"),
        (["run", "ghz:3", "--shots", "-4"], "shots"),
        (["run", "nosuch:4"], "unknown built-in"),
        (["run", "missing.qasm"], "no such OpenQASM file"),
        (["run", "OPENQASM 2.0; qreg q[1]; foo q[0];"], "malformed OpenQASM"),
        (["run", "ghz:3", "--device", "ibm_atlantis"], "device"),
        (["run", "ghz:3", "--mitigation", "pray"], "mitigation"),
        (["run", "ghz:3", "--observable", "ZQ"], "observable"),
        (["run", "ghz:3", "--tenant", "a b"], "tenant"),
        (["run", "ghz:3", "--shots", "lots"], "shots"),
    ],
)
def test_bad_input_exits_2_and_names_it(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_fleet_json_lists_at_least_five_devices_of_two_speeds_and_sizes() -> None:
    result = runner.invoke(app, ["fleet", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) >= 5
    assert len({r["clops"] for r in rows}) >= 2
    assert len({r["qubits"] for r in rows}) >= 2
    assert all(r["status"] == "online" and r["error_score"] > 0 for r in rows)


def test_queue_and_usage_json_on_an_empty_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    for command in ("queue", "usage"):
        result = runner.invoke(app, [command, "--url", url, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == []
