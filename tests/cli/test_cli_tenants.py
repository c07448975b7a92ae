"""`prefect-quantum tenant ...` and `--tenant/--secret` on queue, usage and audit show, on
SQLite and PostgreSQL ([T2..T4] of docs/scheduling.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefect_quantum.cli import app
from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
from prefect_quantum.store import SchedulerStore, tenants

runner = CliRunner()



@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(tenants, "SCRYPT_N", 2**10)
    for name in ("PREFECT_QUANTUM_TENANT", "PREFECT_QUANTUM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 's.db')}"
    value: str = request.getfixturevalue("pg_schema_url")
    return value


def _invoke(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--url", url], env=env)
    return result.exit_code, result.stdout, result.stderr


def _add(url: str, name: str, *creds: str, operator: bool = False) -> str:
    code, stdout, stderr = _invoke(url, "tenant", "add", name, *creds, "--json",
                                   *(["--operator"] if operator else []))
    assert code == 0, stderr
    return str(json.loads(stdout)["secret"])


def test_T4_tenant_add_rotate_list(url: str) -> None:
    code, stdout, stderr = _invoke(url, "tenant", "add", "alice")
    assert code == 2 and "first tenant" in stderr and "must be an operator" in stderr
    code, stdout, stderr = _invoke(url, "tenant", "add", "ops", "--operator")
    assert code == 0 and "shown only this once" in stderr
    ops = ["--tenant", "ops", "--secret", stdout.strip()]
    assert len(stdout.strip()) >= 40
    code, _, stderr = _invoke(url, "tenant", "add", "alice")  # no longer open
    assert code == 2 and "credentials" in stderr
    alice_secret = _add(url, "alice", *ops)
    alice = ["--tenant", "alice", "--secret", alice_secret]
    code, _, stderr = _invoke(url, "tenant", "add", "bob", *alice)
    assert code == 2 and "operators only" in stderr
    code, stdout, _ = _invoke(url, "tenant", "list", *ops, "--json")
    listed = json.loads(stdout)
    assert [(t["tenant"], t["role"]) for t in listed] == [("alice", "tenant"), ("ops", "operator")]
    assert alice_secret not in stdout and "scrypt" not in stdout
    code, stdout, _ = _invoke(url, "tenant", "rotate", "alice", *ops, "--json")
    assert code == 0 and json.loads(stdout)["secret"] != alice_secret
    code, _, stderr = _invoke(url, "queue", *alice)
    assert code == 2 and "authentication failed" in stderr
    assert alice_secret not in stderr
    code, _, stderr = _invoke(url, "tenant", "rotate", "nobody", *ops)
    assert code == 2 and "unknown tenant" in stderr


def test_T3_store_commands_show_a_tenant_its_own_rows(url: str) -> None:
    ops = ["--tenant", "ops", "--secret", _add(url, "ops", operator=True)]
    secrets = {name: _add(url, name, *ops) for name in ("alice", "bob")}
    store = SchedulerStore(url, PolicyConfig())
    try:
        store.register_devices([DeviceState("q1", True, 5, 100_000.0)])
        for name in ("alice", "bob"):
            status = store.submit(Request(f"{name}-1", name, 1, 0.0, 1.0, 2))
            if status.lease_id:
                store.release(f"{name}-1", status.lease_id, qpu_seconds=1.0,
                              outcome="completed", shots_done=1)
        store.submit(Request("bob-2", "bob", 1, 0.0, 1.0, 2))
    finally:
        store.close()
    env = {"PREFECT_QUANTUM_TENANT": "alice", "PREFECT_QUANTUM_SECRET": secrets["alice"]}
    for command in (["queue", "--all"], ["usage"], ["audit", "show"]):
        code, stdout, stderr = _invoke(url, *command, "--json", env=env)
        assert code == 0, stderr
        rows = json.loads(stdout)
        assert rows and {r["tenant"] for r in rows} == {"alice"}, command
        code, stdout, _ = _invoke(url, *command, "--json", *ops)
        assert {"alice", "bob"} <= {r["tenant"] for r in json.loads(stdout)}, command
    code, _, stderr = _invoke(url, "audit", "show", "bob-2", env=env)
    assert code == 2 and "'alice' may not read job 'bob-2'" in stderr
    code, _, stderr = _invoke(url, "queue")
    assert code == 2 and "registered tenants" in stderr
    code, _, stderr = _invoke(url, "usage", "--tenant", "alice")
    assert code == 2 and "--tenant/--secret" in stderr
    code, _, stderr = _invoke(url, "audit", "show", "--tenant", "alice", "--secret", "x" * 20)
    assert code == 2 and "authentication failed (unknown tenant or wrong secret)" in stderr
    code, stdout, _ = _invoke(url, "audit", "verify", "--json")  # integrity needs no login
    assert code == 0 and json.loads(stdout)["intact"] is True
