"""Load: many jobs submitted from several processes to one scheduler store (issue #7, item 5).

Each process submits its share of the jobs (at most ``--in-flight`` unfinished at a time),
polls them, and releases each as soon as it is granted (no QPU time: this measures the
scheduler, not the simulator). Reported per backend (SQLite file, PostgreSQL schema at
``PREFECT_QUANTUM_BENCH_PG_URL``, default ``postgresql+psycopg://127.0.0.1:5432/test``):

- throughput: jobs completed per second of wall time, all processes together;
- decision latency: submit -> grant as the submitter sees it (P50/P99, ms), and the time
  of the store calls that run a decision pass (submit and release; P50/P99, ms);
- peak RSS of each process (MB, max and mean);
- capacity: replaying the audit log, the most devices busy at once and the number of
  times a device was granted while leased (``capacity_exceeded``, must be 0), and the
  jobs not completed (must be 0).

    python benchmarks/load.py [--jobs 10000] [--processes 8] [--devices 8] [--skip-pg]

A benchmark, not a CI test (``tests/chaos/test_load.py`` runs a tiny version).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
from prefect_quantum.store import SchedulerStore

TENANTS = ("chem", "ml", "ops", "phys")
POLICY: dict[str, Any] = {"min_run_s": 0.0, "preemption_grace_s": 0.0}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _worker(url: str, index: int, jobs: int, in_flight: int, start: Any, out: Any) -> None:
    store = SchedulerStore(url, PolicyConfig(**POLICY), lease_ttl_s=60.0,
                           pass_interval_s=0.5)
    pending = [(f"load-{index}-{i:05d}", TENANTS[(index + i) % len(TENANTS)], i % 3)
               for i in range(jobs)]
    pending.reverse()
    active: dict[str, float] = {}
    grant_ms: list[float] = []
    pass_ms: list[float] = []
    done = 0
    start.wait()
    began = time.perf_counter()

    def release(job_id: str, lease_id: str) -> None:
        nonlocal done
        t = time.perf_counter()
        store.release(job_id, lease_id, qpu_seconds=0.01, outcome="completed",
                      shots_done=100)
        pass_ms.append(1000 * (time.perf_counter() - t))
        done += 1

    while pending or active:
        progressed = False
        while pending and len(active) < in_flight:
            job_id, tenant, cls = pending.pop()
            t = time.perf_counter()
            status = store.submit(Request(job_id, tenant, cls, 0.0, 0.5, 2, shots_total=100))
            now = time.perf_counter()
            pass_ms.append(1000 * (now - t))
            if status.state == "running" and status.lease_id:
                grant_ms.append(1000 * (now - t))
                release(job_id, status.lease_id)
            else:
                active[job_id] = t
            progressed = True
        for job_id, submitted in list(active.items()):
            status = store.poll(job_id)
            if status.state == "running" and status.lease_id:
                grant_ms.append(1000 * (time.perf_counter() - submitted))
                del active[job_id]
                release(job_id, status.lease_id)
                progressed = True
            elif status.state != "waiting":
                raise RuntimeError(f"{job_id}: unexpected state {status.state}")
        if not progressed:
            time.sleep(0.002)
    seconds = time.perf_counter() - began
    store.close()
    out.put({
        "index": index, "done": done, "seconds": seconds, "grant_ms": grant_ms,
        "pass_ms": pass_ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def replay_capacity(records: list[dict[str, Any]], devices: set[str]) -> tuple[int, int]:
    """(most devices busy at once, grants of a device that was leased or unknown)."""
    holder: dict[str, str] = {}
    peak = exceeded = 0
    for record in records:
        lease_id = record["detail"].get("lease_id")
        if record["kind"] == "granted":
            if record["device"] in holder or record["device"] not in devices:
                exceeded += 1
            holder[record["device"]] = lease_id
            peak = max(peak, len(holder))
        elif record["kind"] == "lease_fenced" and holder.get(record["device"]) == lease_id:
            holder[record["device"]] = record["detail"]["new_lease_id"]  # [L6] same lease
        elif record["kind"] in ("released", "expired") and \
                holder.get(record["device"]) == lease_id:
            del holder[record["device"]]
    return peak, exceeded


def run_load(url: str, *, jobs: int = 10_000, processes: int = 8, devices: int = 8,
             in_flight: int = 8) -> dict[str, Any]:
    """Run the load against `url` (an empty store) and return the figures."""
    fleet = [DeviceState(f"qpu-{i:02d}", True, 10, 100_000.0 + 10_000 * i)
             for i in range(devices)]
    setup = SchedulerStore(url, PolicyConfig(**POLICY))
    setup.register_devices(fleet)
    setup.close()
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    shares = [jobs // processes + (1 if i < jobs % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=_worker, args=(url, i, shares[i], in_flight, start, out))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=3600) for _ in procs]
    wall = time.perf_counter() - began
    for proc in procs:
        proc.join(30)
    check = SchedulerStore(url, PolicyConfig(**POLICY))
    try:
        queue = check.queue(include_finished=True)
        peak, exceeded = replay_capacity(check.audit(), {d.name for d in fleet})
        audit_ok = check.verify_audit() is None
        leases_left = len(check.leases())
    finally:
        check.close()
    grant = [x for r in results for x in r["grant_ms"]]
    passes = [x for r in results for x in r["pass_ms"]]
    rss = [r["peak_rss_mb"] for r in results]
    done = sum(r["done"] for r in results)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "jobs": jobs, "processes": processes, "devices": devices, "in_flight": in_flight,
        "completed": sum(1 for q in queue if q["state"] == "completed"),
        "seconds": round(wall, 2),
        "throughput_jobs_s": round(done / wall, 1),
        "p50_submit_to_grant_ms": ms(_percentile(grant, 0.50)),
        "p99_submit_to_grant_ms": ms(_percentile(grant, 0.99)),
        "p50_pass_ms": ms(_percentile(passes, 0.50)),
        "p99_pass_ms": ms(_percentile(passes, 0.99)),
        "peak_rss_mb": round(max(rss), 1),
        "mean_peak_rss_mb": round(sum(rss) / len(rss), 1),
        "max_devices_busy": peak,
        "capacity_exceeded": exceeded + (1 if peak > devices else 0),
        "leases_left": leases_left,
        "audit_verified": audit_ok,
    }


@contextmanager
def pg_schema(base_url: str) -> Iterator[str | None]:
    """A URL on a fresh PostgreSQL schema (dropped afterwards), None when unreachable."""
    schema = f"pq_load_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        print(f"PostgreSQL unreachable: {error.orig}", file=sys.stderr)
        admin.dispose()
        yield None
        return
    url = sa.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def load_both(jobs: int, processes: int, devices: int = 8, in_flight: int = 8,
              postgres: bool = True) -> dict[str, Any]:
    """The load figures on SQLite and (unless `postgres` is False or unreachable) PostgreSQL."""
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = run_load(f"sqlite:///{os.path.join(tmp, 'load.db')}", jobs=jobs,
                                    processes=processes, devices=devices,
                                    in_flight=in_flight)
    report["postgresql"] = None
    if postgres:
        base = os.environ.get("PREFECT_QUANTUM_BENCH_PG_URL",
                              "postgresql+psycopg://127.0.0.1:5432/test")
        with pg_schema(base) as url:
            if url is not None:
                report["postgresql"] = run_load(url, jobs=jobs, processes=processes,
                                                devices=devices, in_flight=in_flight)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    report = {"benchmark": "scheduler load", "cpu_count": os.cpu_count(),
              "load_avg_1m_before": round(os.getloadavg()[0], 2),
              **load_both(args.jobs, args.processes, args.devices, args.in_flight,
                          postgres=not args.skip_pg)}
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
