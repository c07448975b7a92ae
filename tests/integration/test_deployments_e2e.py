"""End to end on real infrastructure: a Prefect server on PostgreSQL, deployments, two
process workers, runs created as the UI's custom-run form sends them, for three tenants.

Starts everything it needs and stops it all (the `database` and `server` fixtures are in
conftest.py). Needs the PostgreSQL server of `PREFECT_QUANTUM_TEST_PG_URL` (skips without
it, except under CI=true).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_ui_runs_for_three_tenants_complete_in_fair_share_order(
    server: dict[str, str], run_cli: Callable[..., str]
) -> None:
    env, _run = server, run_cli
    py = sys.executable
    _run(env, py, "blocks/register.py")
    # Point the saved scheduler at the PostgreSQL store, one device, and seed a heavy tenant.
    setup = f"""
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
from prefect_quantum.scheduling import DeviceState, Request
s = QuantumScheduler.load("default")
s.store_url = {env['STORE_URL']!r}
s.fleet_config = QuantumFleet(devices=["ibm_brussels"])
s.shares = {{"heavy": 1.0, "light-a": 1.0, "light-b": 1.0}}
s.lease_ttl_s = 900.0  # the blocker below holds its lease without heartbeats
s.save("default", overwrite=True)
s = QuantumScheduler.load("default")
s.reserver()._sync_devices()
st = s.store.submit(Request("seed", "heavy", 1, 0.0, 1.0, 2))
s.store.release("seed", st.lease_id, qpu_seconds=5000.0, outcome="completed", shots_done=1)
st = s.store.submit(Request("blocker", "ops", 3, 0.0, 1.0, 2))   # holds the only QPU
print(st.lease_id)
"""
    blocker_lease = _run(env, py, "-c", setup).strip().splitlines()[-1]
    _run(env, py, "-m", "prefect", "work-pool", "create", "quantum", "--type", "process")
    _run(env, py, "-m", "prefect", "--no-prompt", "deploy", "--all",
         "--prefect-file", "deployments/prefect.yaml")
    logs = [Path(env["PREFECT_HOME"]) / f"worker-{i}.log" for i in range(2)]
    workers = [
        subprocess.Popen([py, "-m", "prefect", "worker", "start", "--pool", "quantum"],
                         env={**env, "PREFECT_LOGGING_LEVEL": "INFO"}, cwd=ROOT,
                         stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        created = _run(env, py, "-c", _CREATE_RUNS)
        run_ids = created.split()
        # Wait until all four jobs queue behind the blocker, then free the QPU.
        waited = subprocess.run([py, "-c", _WAIT_QUEUED.format(lease=blocker_lease)],
                                env=env, cwd=ROOT, capture_output=True, text=True)
        assert waited.returncode == 0, waited.stderr + "".join(
            log.read_text()[-6000:] for log in logs)
        states = _run(env, py, "-c", _WAIT_DONE.format(ids=run_ids)).split()
        assert states == ["COMPLETED"] * 4, states
        checks = _run(env, py, "-c", _CHECK)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
    lines = dict(line.split("=", 1) for line in checks.strip().splitlines())
    # [F1] the light tenants, far below their share, go before the heavy tenant's jobs.
    assert lines["grant_order"].split(",")[-2:] == ["heavy", "heavy"], lines
    assert int(lines["rows_ok"]) == 4
    assert int(lines["job_events"]) >= 4 * 3  # submitted, granted, completed per job


_CREATE_RUNS = """
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as c:
    dep = c.read_deployment_by_name("hybrid-job/hybrid-job")
    block_id = str(c.read_block_document_by_name("default", "quantum-scheduler").id)
    for tenant in ["heavy", "heavy", "light-a", "light-b"]:
        # exactly what the UI's custom-run form sends: JSON values, a block reference
        params = {"circuits": ["ghz:3"], "shots": 500, "mitigation": "rem",
                  "tenant": tenant, "priority": "normal",
                  "scheduler": {"$ref": {"block_document_id": block_id}}}
        run = c.create_flow_run_from_deployment(dep.id, parameters=params)
        print(run.id)
"""

_WAIT_QUEUED = """
import time
from prefect_quantum.blocks import QuantumScheduler
s = QuantumScheduler.load("default")
deadline = time.time() + 240
while time.time() < deadline:
    waiting = [r for r in s.store.queue() if r["state"] == "waiting"]
    if len(waiting) == 4:
        break
    time.sleep(0.5)
else:
    states = [(r["job_id"], r["state"], r["reason"]) for r in s.store.queue(include_finished=True)]
    raise SystemExit(f"only {{len(waiting)}} jobs queued: {{states}}")
s.store.release("blocker", "{lease}", qpu_seconds=1.0, outcome="completed", shots_done=1)
"""

_WAIT_DONE = """
import time
from prefect.client.orchestration import get_client
ids = {ids}
deadline = time.time() + 400
with get_client(sync_client=True) as c:
    while True:
        states = [c.read_flow_run(i).state for i in ids]
        if all(s.is_final() for s in states) or time.time() > deadline:
            break
        time.sleep(1)
print(" ".join(s.type.value for s in states))
"""

_CHECK = """
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect_quantum.blocks import QuantumScheduler
s = QuantumScheduler.load("default")
grants = [a["tenant"] for a in s.store.audit() if a["kind"] == "granted"
          and a["job_id"] not in ("seed", "blocker")]
print("grant_order=" + ",".join(grants))
ok = 0
with get_client(sync_client=True) as c:
    arts = c.read_artifacts(artifact_filter=ArtifactFilter(
        key=ArtifactFilterKey(like_="hybrid-job-%")))
    for a in arts:
        if a.type == "table":
            rows = a.data if isinstance(a.data, list) else __import__("json").loads(a.data)
            ok += all(r["shots"] == 500 and r["backend_kind"] == "qpu"
                      and r["device"] == "ibm_brussels" and r["mitigation"] == "rem"
                      for r in rows)
    resp = c._client.post("/events/filter", json={
        "filter": {"event": {"prefix": ["prefect-quantum.job."]}}, "limit": 50})
    resp.raise_for_status()
print(f"rows_ok={ok}")
print(f"job_events={resp.json()['total']}")
"""
