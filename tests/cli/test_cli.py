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


def test_audit_verify_detects_the_first_altered_record(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
    from prefect_quantum.store import SchedulerStore

    url = f"sqlite:///{tmp_path / 's.db'}"
    store = SchedulerStore(url, PolicyConfig())
    store.register_devices([DeviceState("dev", True, 5, 100000.0)])
    for k in range(3):
        status = store.submit(Request(f"j{k}", "t", 1, 0.0, 1.0, 2))
        if status.lease_id:
            store.release(f"j{k}", status.lease_id, qpu_seconds=1.0, outcome="completed",
                          shots_done=1)
    ok = runner.invoke(app, ["audit", "verify", "--url", url, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["intact"] is True
    records = store.audit()
    victim = records[len(records) // 2]["seq"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE pq_audit_log SET reason = 'edited' WHERE seq = :s"),
                     {"s": victim})
    bad = runner.invoke(app, ["audit", "verify", "--url", url, "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["first_altered_seq"] == victim
