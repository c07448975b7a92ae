"""End to end on real infrastructure: a Prefect server on PostgreSQL, deployments, two
process workers, runs created as the UI's custom-run form sends them, for three tenants.

Starts everything it needs and stops it all (the `database`, `server` and `deployed` fixtures
are in conftest.py). Needs the PostgreSQL server of `PREFECT_QUANTUM_TEST_PG_URL` (skips without
it, except under CI=true).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def _start_workers(env: dict[str, str], count: int) -> tuple[list[subprocess.Popen[bytes]],
                                                             list[Path]]:
    logs = [Path(env["PREFECT_HOME"]) / f"worker-{uuid.uuid4().hex[:6]}.log"
            for _ in range(count)]
    workers = [
        subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "quantum"],
                         env={**env, "PREFECT_LOGGING_LEVEL": "INFO"}, cwd=ROOT,
                         stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for log in logs
    ]
    return workers, logs


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.terminate()
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: don't let cleanup fail a test
            w.kill()
            w.wait(timeout=30)


def test_ui_runs_for_three_tenants_complete_in_fair_share_order(
    deployed: dict[str, str], run_cli: Callable[..., str]
) -> None:
    env, _run = deployed, run_cli
    py = sys.executable
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
    workers, logs = _start_workers(env, 2)
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
        _stop(workers)
    lines = dict(line.split("=", 1) for line in checks.strip().splitlines())
    # [F1] the light tenants, far below their share, go before the heavy tenant's jobs.
    assert lines["grant_order"].split(",")[-2:] == ["heavy", "heavy"], lines
    assert int(lines["rows_ok"]) == 4
    assert int(lines["job_events"]) >= 4 * 3  # submitted, granted, completed per job


def _flow_run_pids(flow_run_id: str) -> list[int]:
    """Processes running `flow_run_id` (Linux: read from /proc)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _parent(pid: int) -> int:
    stat = (Path("/proc") / str(pid) / "stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_a_crashed_run_is_rerun_by_the_automation_and_resumes_from_its_checkpoint(
    deployed: dict[str, str], run_cli: Callable[..., str]
) -> None:
    env, py = deployed, sys.executable
    shots = 20_000
    run_id = run_cli(env, py, "-c", _CREATE_SLOW_RUN.format(shots=shots)).split()[-1]
    job_id = f"run-{run_id}"
    workers, logs = _start_workers(env, 1)
    try:
        # Kill the run's process (SIGKILL: no cleanup at all) once it has checkpointed.
        deadline = time.monotonic() + 240
        done = run_cli(env, py, "-c", _WAIT_CHECKPOINT.format(job_id=job_id)).split()[-1]
        assert int(done) >= 2000
        pids = _flow_run_pids(run_id)
        assert pids, "no process runs the flow run"
        # The worker's child starts the process that runs the flow; kill that one, as
        # the kernel's OOM killer would. (Killing the child too makes the worker report a
        # second crash later, racing the re-run that the first one triggered.)
        parents = {_parent(pid) for pid in pids}
        for pid in pids:
            if pid not in parents:
                os.kill(pid, signal.SIGKILL)
        while time.monotonic() < deadline:  # the worker reports the crash
            if _flow_run_pids(run_id) == []:
                break
            time.sleep(0.2)
        out = run_cli(env, py, "-c", _WAIT_RERUN_DONE.format(run_id=run_id))
        assert out.split() == ["COMPLETED"], out + "".join(
            log.read_text()[-4000:] for log in logs)
        checks = run_cli(env, py, "-c", _CHECK_RERUN.format(run_id=run_id, job_id=job_id))
    finally:
        _stop(workers)
    lines = dict(line.split("=", 1) for line in checks.strip().splitlines())
    assert "CRASHED" in lines["states"].split(","), lines  # it did crash ...
    assert int(lines["run_count"]) >= 2, lines  # ... and ran again
    assert int(lines["shots"]) == shots
    assert int(lines["resumed_from"]) >= int(done)  # from the checkpoint, not from zero
    # [L6] the dead run's lease expired (charged for the time it held the device); the
    # re-run's own lease is charged for exactly the shots it ran.
    assert lines["ledger_outcomes"] == "expired,completed", lines
    assert float(lines["charged_s"]) == pytest.approx(float(lines["expected_s"]), rel=1e-9)


_CREATE_SLOW_RUN = """
from prefect.client.orchestration import get_client
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
import os
s = QuantumScheduler(store_url=os.environ["STORE_URL"], lease_ttl_s=10.0,
                     fleet_config=QuantumFleet(devices=["ibm_fez"], time_scale=1.0))
block_id = str(s.save("crashy", overwrite=True))
with get_client(sync_client=True) as c:
    dep = c.read_deployment_by_name("hybrid-job/hybrid-job")
    params = {{"circuits": ["ghz:3"], "shots": {shots}, "tenant": "crash-test",
              "options": {{"chunk_shots": 1000, "checkpoint_interval_s": 0}},
              "scheduler": {{"$ref": {{"block_document_id": block_id}}}}}}
    print(c.create_flow_run_from_deployment(dep.id, parameters=params).id)
"""

_WAIT_CHECKPOINT = """
import time
from prefect_quantum.blocks import QuantumScheduler
store = QuantumScheduler.load("crashy").store
deadline = time.time() + 240
while time.time() < deadline:
    point = store.load_checkpoint("{job_id}")
    if point and point["shots_done"] >= 2000:
        print(point["shots_done"])
        break
    time.sleep(0.2)
else:
    raise SystemExit("no checkpoint of 2000 shots: " + repr(store.queue(include_finished=True)))
"""

_WAIT_RERUN_DONE = """
import time
from prefect.client.orchestration import get_client
deadline = time.time() + 400
crashed_since = None
with get_client(sync_client=True) as c:
    while time.time() < deadline:
        state = c.read_flow_run("{run_id}").state
        if state.is_completed() or state.is_failed() or state.is_cancelled():
            break
        # Crashed is final, but the automation is about to schedule the run again.
        crashed_since = (crashed_since or time.time()) if state.is_crashed() else None
        if crashed_since and time.time() - crashed_since > 90:
            break
        time.sleep(1)
print(state.type.value)
"""

_CHECK_RERUN = """
import json
from prefect.client.orchestration import get_client
from prefect_quantum.blocks import QuantumScheduler
s = QuantumScheduler.load("crashy")
with get_client(sync_client=True) as c:
    run = c.read_flow_run("{run_id}")
    states = [st.type.value for st in c.read_flow_run_states("{run_id}")]
    arts = [a for a in c.read_artifacts() if a.key == "hybrid-job-{job_id}".lower()[:60]
            and a.type == "table"]
    rows = arts[0].data if isinstance(arts[0].data, list) else json.loads(arts[0].data)
    resp = c._client.post("/events/filter", json={{"filter": {{
        "event": {{"name": ["prefect-quantum.job.resumed"]}},
        "resource": {{"id": ["prefect-quantum.job.{job_id}"]}}}}, "limit": 5}})
    resp.raise_for_status()
    events = resp.json()["events"]
ledger = [r for r in s.store.ledger() if r["job_id"] == "{job_id}"]
print("states=" + ",".join(states))
print(f"run_count={{run.run_count}}")
print(f"shots={{rows[0]['shots']}}")
print(f"resumed_from={{max([e['payload']['shots_done'] for e in events] or [0])}}")
print("ledger_outcomes=" + ",".join(r["outcome"] for r in ledger))
resumed = max([e['payload']['shots_done'] for e in events] or [0])
print(f"charged_s={{ledger[-1]['qpu_seconds']}}")
print(f"expected_s={{s.fleet.get('ibm_fez').qpu_seconds(rows[0]['shots'] - resumed)}}")
"""

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
import time
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
    # The server persists events in batches after the run ends: wait for them (bounded).
    jobs = [f"prefect-quantum.job.{a['job_id']}" for a in s.store.audit()
            if a["kind"] == "granted" and a["job_id"] not in ("seed", "blocker")]
    deadline = time.time() + 60
    while True:
        resp = c._client.post("/events/filter", json={"filter": {
            "event": {"prefix": ["prefect-quantum.job."]}, "resource": {"id": jobs}},
            "limit": 50})
        resp.raise_for_status()
        if resp.json()["total"] >= 3 * len(jobs) or time.time() > deadline:
            break
        time.sleep(1)
print(f"rows_ok={ok}")
print(f"job_events={resp.json()['total']}")
"""
