"""The multi-process workload of issue #3's "Done means": worker processes submit jobs,
run them in shot chunks under leases (heartbeat, checkpoint, yield on preemption), and
one worker is killed with SIGKILL mid-execute and replaced by another that resumes its
job ids. Also the audit-log replay that checks "no double grant"."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from signal import SIGKILL
from typing import Any

from prefect_quantum.errors import LeaseLostError, StoreBusyError
from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
from prefect_quantum.store import SchedulerStore

JobSpec = tuple[str, str, int, int]  # job_id, tenant, priority class, shots

# min_run_s is short because leases here are short (1-3 chunks of store calls): with
# 0.2 s a fast store finished most jobs before any lease could be a victim [P4], and
# runs without a single preemption happened (also before the store got faster).
POLICY: dict[str, Any] = {
    "min_run_s": 0.05, "preemption_grace_s": 0.0, "max_preemptions_per_job": 2,
}
DEVICES = (
    DeviceState("qpu-a", True, 10, 100_000.0),
    DeviceState("qpu-b", True, 10, 150_000.0),
    DeviceState("qpu-c", True, 10, 200_000.0, est_fidelity=0.95),
    DeviceState("qpu-d", True, 10, 80_000.0),
)


def replay_leases(records: list[dict[str, Any]]) -> int:
    """Replay the audit log in order and assert that a device is granted only while it
    holds no lease, a job holds at most one lease, and every release or expiry ends the
    lease that holds the device ([A3], [S3]). Returns the number of grants."""
    holder: dict[str, str] = {}
    job_lease: dict[str, str] = {}
    grants = 0
    for record in records:
        lease_id = record["detail"].get("lease_id")
        if record["kind"] == "granted":
            grants += 1
            assert record["device"] not in holder, f"double grant at seq {record['seq']}"
            assert record["job_id"] not in job_lease, f"two leases for a job at {record['seq']}"
            holder[record["device"]] = lease_id
            job_lease[record["job_id"]] = lease_id
        elif record["kind"] == "lease_fenced":  # [L6] the same lease under a new id
            new_id = record["detail"]["new_lease_id"]
            assert holder[record["device"]] == lease_id == job_lease[record["job_id"]]
            holder[record["device"]] = job_lease[record["job_id"]] = new_id
        elif record["kind"] in ("released", "expired"):
            assert holder.pop(record["device"]) == lease_id, f"bad release at {record['seq']}"
            assert job_lease.pop(record["job_id"]) == lease_id
    return grants


def make_jobs(count: int, workers: int, seed: int = 7) -> list[list[JobSpec]]:
    """`count` jobs of 4 tenants with mixed classes and shots, dealt to `workers`.
    Worker 0's first job needs several chunks, so it can be killed mid-execute."""
    rng = random.Random(seed)
    jobs = [
        (f"job-{i:04d}", f"tenant-{i % 4}", rng.choice((0, 0, 1, 1, 2, 3)),
         rng.choice((200, 400, 600)))
        for i in range(count)
    ]
    dealt = [jobs[w::workers] for w in range(workers)]
    first = dealt[0][0]
    dealt[0][0] = (first[0], first[1], 0, 600)
    return dealt


def worker(
    url: str,
    jobs: list[JobSpec],
    ttl: float,
    chunk: int,
    kill_signal: Any = None,
    report: Any = None,
    time_limit_s: float = 120.0,
    in_flight: int = 6,
) -> None:
    """Submit `jobs` one per loop, at most `in_flight` unfinished at a time, and execute
    granted ones chunk by chunk until all are completed. With `kill_signal`, stop dead
    (and wait to be killed) right after the first checkpoint of an unfinished job,
    telling `report` which job, how far and under which lease."""
    store = SchedulerStore(url, PolicyConfig(**POLICY), lease_ttl_s=ttl, pass_interval_s=0.5)
    rng = random.Random(os.getpid())
    specs = {spec[0]: spec for spec in jobs}
    to_submit = list(jobs)
    active: set[str] = set()
    local: dict[str, tuple[str, int, Counter[str]]] = {}  # job -> lease, shots, counts
    end = time.monotonic() + time_limit_s
    while (to_submit or active) and time.monotonic() < end:
        if to_submit and len(active) < in_flight:
            job_id, tenant, cls, shots = to_submit.pop(0)
            try:
                store.submit(Request(job_id, tenant, cls, 0.0, shots / 1000.0, 2,
                                     shots_total=shots))
                active.add(job_id)
            except StoreBusyError:
                to_submit.insert(0, specs[job_id])
        progressed = False
        for job_id in sorted(active):
            total = specs[job_id][3]
            try:
                status = store.poll(job_id)
                if status.state == "completed":
                    active.discard(job_id)
                    continue
                if status.state != "running" or status.lease_id is None:
                    continue
                known = local.get(job_id)
                if known is None or known[0] != status.lease_id:  # a new lease: resume
                    saved = store.load_checkpoint(job_id) or {"shots_done": 0, "counts": {}}
                    known = (status.lease_id, saved["shots_done"], Counter(saved["counts"]))
                lease_id, done, counts = known
                shots = min(chunk, total - done)
                ones = rng.randint(0, shots)
                counts["1"] += ones
                counts["0"] += shots - ones
                done += shots
                store.save_checkpoint(job_id, lease_id, {
                    "shots_done": done, "counts": dict(counts), "device": status.device,
                    "qpu_seconds": done / 1000.0,
                })
                local[job_id] = (lease_id, done, counts)
                progressed = True
                if kill_signal is not None and done < total:
                    report.put((job_id, done, lease_id))
                    kill_signal.set()
                    time.sleep(3600)  # mid-execute, holding the lease, until SIGKILL
                if done >= total:
                    store.release(job_id, lease_id, qpu_seconds=shots / 1000.0,
                                  outcome="completed", shots_done=done)
                    active.discard(job_id)
                    local.pop(job_id, None)
                    continue
                beat = store.heartbeat(job_id, lease_id, shots_done=done,
                                       work_done_s=done / 1000.0)
                if beat.preempt_requested:  # checkpointed above: yield [P7]
                    store.release(job_id, lease_id, qpu_seconds=shots / 1000.0,
                                  outcome="preempted", shots_done=done)
                    local.pop(job_id, None)
            except LeaseLostError:
                local.pop(job_id, None)  # the chunk in flight is lost, the checkpoint not
            except StoreBusyError:
                time.sleep(0.05)
        if not progressed:  # all waiting: poll gently, as a real reserve loop would
            time.sleep(0.15)
    store.close()
    if active or to_submit:
        raise SystemExit(f"worker gave up with {len(active) + len(to_submit)} jobs left")


def _wait_for_expiry(url: str, job_id: str, lease_id: str, ttl: float) -> None:
    """Poll until the dead worker's lease is gone (expired by a pass, [L3])."""
    store = SchedulerStore(url, PolicyConfig(**POLICY), lease_ttl_s=ttl, pass_interval_s=0.5)
    try:
        end = time.monotonic() + 10 * ttl
        while store.poll(job_id).lease_id == lease_id:
            if time.monotonic() > end:
                raise AssertionError(f"lease {lease_id} of the killed worker never expired")
            time.sleep(0.05)
    finally:
        store.close()


@dataclass
class WorkloadResult:
    seconds: float
    killed_job: str
    killed_at_shots: int
    exit_codes: list[int | None]


def run_workload(
    url: str, *, workers: int = 8, jobs: int = 400, ttl: float = 1.5, chunk: int = 200
) -> WorkloadResult:
    """Run the workload on `url` (an empty store) and return what happened."""
    start = time.monotonic()
    setup = SchedulerStore(url, PolicyConfig(**POLICY))
    setup.register_devices(DEVICES)
    setup.close()
    dealt = make_jobs(jobs, workers)
    ctx = mp.get_context("spawn")
    kill_signal, report = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(url, dealt[w], ttl, chunk,
                                         kill_signal if w == 0 else None, report))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    try:
        if not kill_signal.wait(60):
            raise AssertionError("the victim worker never reached mid-execute")
        killed_job, killed_at, dead_lease = report.get(timeout=10)
        assert procs[0].pid is not None
        os.kill(procs[0].pid, SIGKILL)
        procs[0].join(10)
        _wait_for_expiry(url, killed_job, dead_lease, ttl)
        # A new process runs the victim's job ids again: idempotent submit, resume [L3].
        replacement = ctx.Process(target=worker, args=(url, dealt[0], ttl, chunk))
        replacement.start()
        procs.append(replacement)
        for proc in procs[1:]:
            proc.join(150)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    return WorkloadResult(time.monotonic() - start, killed_job, killed_at,
                          [proc.exitcode for proc in procs])
