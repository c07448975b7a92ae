"""Seeded fault-injection harness for the scheduler path (issue #7, item 1).

Jobs of several tenants run through the production path (``SchedulerStore`` ->
``SchedulerReserver`` -> the ``compile``/``check_calibration``/``reserve``/``execute`` task
functions, with the retry-then-fallback rule of ``hybrid_job``) in worker threads of this
process and in worker processes sharing the same store, while a controller injects faults
at seeded points of the run:

- ``device_outage`` / ``device_outage_mid_job`` / ``device_recovered`` / ``drift``: the
  fleet's `FaultModel` (devices going offline, going offline after a chunk of the next
  execution, coming back, calibration errors drifting);
- ``calibration_stale``: a device's calibration age crosses ``calibration_max_age_s``
  (recalibrated a few steps later);
- ``store_outage``: the store refuses writes for several seconds (SQLite: another
  connection holds the write lock; PostgreSQL: another connection holds an ACCESS
  EXCLUSIVE lock on the scheduler row's table, or every store connection is terminated);
- ``worker_sigkill``: a worker process is killed with SIGKILL mid-execute; its lease must
  expire and another worker resumes the job from its checkpoint;
- ``api_503`` (flow runs only, `run_flow_jobs`): the Prefect API answers 503 for a while.

`verify` then checks the invariants and returns the figures ``benchmarks/reliability.py``
prints. Imported by ``tests/chaos`` (this directory is put on ``sys.path``).

Reproducible from the seed: the jobs, and which fault is injected at which point of the
run's progress (every ``1/steps`` of the jobs completed). Thread and process timings are
not, so two runs of one seed meet the same faults at the same progress, not at the same
instants.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import pickle
import queue
import random
import signal
import sqlite3
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from prefect_quantum import pipeline
from prefect_quantum import scheduler as scheduler_module
from prefect_quantum import tasks as tasks_module
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
from prefect_quantum.errors import StoreBusyError, is_transient
from prefect_quantum.fleet import FaultModel, Fleet
from prefect_quantum.job import JobRequest
from prefect_quantum.reservation import Lease, Outcome
from prefect_quantum.scheduler import SchedulerReserver
from prefect_quantum.store import SchedulerStore
from prefect_quantum.store.schema import checkpoints
from prefect_quantum.tasks import ExecuteOutcome, JobRun

TENANTS = ("chem", "ml", "ops", "phys")
DEVICES = ("ibm_brussels", "ibm_kyiv", "ibm_strasbourg", "ibm_fez")
DOMAIN = "fedramp"
COMPLIANCE = {DOMAIN: ["ibm_fez", "ibm_kyiv"]}
PRIORITIES = ("low", "low", "normal", "normal", "normal", "high", "urgent")
CIRCUITS = (("bell",), ("ghz:3",), ("bell", "ghz:2"))
LOG = logging.getLogger("prefect_quantum.chaos")
LOG.setLevel(logging.ERROR)  # the tasks' warnings (filtered devices, preemptions)


# -- jobs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One tiny job: few qubits, few shots, a few chunks."""

    job_id: str
    tenant: str
    priority: str
    circuits: tuple[str, ...]
    shots: int
    chunk_shots: int
    fallback: str
    compliance_domain: str | None
    max_wait_s: float
    checkpoint_interval_s: float = 0.0

    def request(self) -> JobRequest:
        options: dict[str, Any] = {
            "job_id": self.job_id, "chunk_shots": self.chunk_shots, "optimization_level": 1,
            "fallback": self.fallback, "max_wait_s": self.max_wait_s,
            "compliance_domain": self.compliance_domain,
            "checkpoint_interval_s": self.checkpoint_interval_s,
        }
        return JobRequest.build(list(self.circuits), self.shots, tenant=self.tenant,
                                priority=self.priority, options=options)


def make_specs(count: int, seed: int, prefix: str = "job") -> list[JobSpec]:
    """`count` jobs of `TENANTS`, reproducible from `seed`."""
    rng = random.Random(f"{seed}:{prefix}")
    specs = []
    for i in range(count):
        restricted = rng.random() < 0.08
        specs.append(JobSpec(
            job_id=f"{prefix}-{seed}-{i:04d}",
            tenant=TENANTS[i % len(TENANTS)],
            priority=rng.choice(PRIORITIES),
            circuits=rng.choice(CIRCUITS),
            shots=rng.choice((40, 60, 80)),  # 1-3 chunks: Aer costs ~10-20 ms a chunk
            chunk_shots=rng.choice((30, 40)),
            fallback=rng.choice(("noisy", "noisy", "noisy", "ideal", "none")),
            compliance_domain=DOMAIN if restricted else None,
            max_wait_s=rng.choice((5.0, 15.0, 30.0)),
            checkpoint_interval_s=rng.choice((0.0, 0.25)),
        ))
    return specs


# -- a worker: the production path without a Prefect API ----------------------------------


@dataclass
class JobOutcome:
    """What a worker saw of one job (JSON lines between processes)."""

    job_id: str
    worker: str
    ok: bool
    backend_kind: str | None = None
    device: str | None = None
    fallback_reason: str | None = None
    counts_per_circuit: list[int] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    attempts: int = 0
    attempt_errors: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Release:
    """A release the store accepted, as the worker reported it (for billing)."""

    lease_id: str
    job_id: str
    backend_kind: str
    qpu_seconds: float
    outcome: str
    shots_done: int


class RecordingReserver(SchedulerReserver):
    """The production reserver, remembering every release the store accepted."""

    def __init__(self, block: QuantumScheduler, sink: Callable[[Release], None]) -> None:
        super().__init__(block, poll_max_s=0.05)  # tiny jobs: notice grants quickly
        self._sink = sink

    def release(
        self, lease: Lease, *, qpu_seconds: float, outcome: Outcome, shots_done: int
    ) -> None:
        super().release(lease, qpu_seconds=qpu_seconds, outcome=outcome, shots_done=shots_done)
        self._sink(Release(lease.lease_id, lease.job_id, lease.backend_kind,
                           max(qpu_seconds, 0.0), outcome, shots_done))


@contextmanager
def without_prefect_api() -> Iterator[Counter[str]]:
    """Run the task functions (``task.fn``) with no Prefect API: progress artifacts, run
    loggers and events are stubbed (events counted by name). Process-wide: not while
    flows run in this process."""
    events: Counter[str] = Counter()
    saved = (tasks_module.get_run_logger, tasks_module.create_progress_artifact,
             tasks_module.update_progress_artifact, scheduler_module.emit,
             scheduler_module.emit_device_event)

    def emit(event: str, *_: Any, **__: Any) -> None:
        events[event] += 1

    stubs: dict[str, Any] = {
        "get_run_logger": lambda: LOG,
        "create_progress_artifact": lambda *a, **k: uuid.uuid4(),
        "update_progress_artifact": lambda *a, **k: None,
    }
    for name, stub in stubs.items():
        setattr(tasks_module, name, stub)
    scheduler_module.emit = emit
    scheduler_module.emit_device_event = emit
    try:
        yield events
    finally:
        (tasks_module.get_run_logger, tasks_module.create_progress_artifact,
         tasks_module.update_progress_artifact, scheduler_module.emit,
         scheduler_module.emit_device_event) = saved


@dataclass(frozen=True)
class StoreSettings:
    """How every worker opens the shared store."""

    url: str
    lease_ttl_s: float = 1.0
    busy_timeout_s: float = 1.0
    pass_interval_s: float = 0.5
    retries: int = 4
    retry_backoff_s: float = 0.1
    time_scale: float = 0.0


def make_block(settings: StoreSettings, time_scale: float | None = None) -> QuantumScheduler:
    """The scheduler block every worker loads, with a short busy timeout on its store."""
    block = QuantumScheduler(
        store_url=SecretStr(settings.url),
        fleet_config=QuantumFleet(
            devices=list(DEVICES), compliance=COMPLIANCE,
            time_scale=settings.time_scale if time_scale is None else time_scale,
        ),
        lease_ttl_s=settings.lease_ttl_s, retries=settings.retries,
        retry_backoff_s=settings.retry_backoff_s, retry_jitter_factor=0.0,
        preemption_grace_s=0.0, min_run_s=0.1, max_preemptions_per_job=2,
    )
    # A short busy timeout turns a store outage into StoreBusyError at every call site.
    block.__dict__["store"] = SchedulerStore(
        settings.url, block.policy(), lease_ttl_s=settings.lease_ttl_s,
        busy_timeout_s=settings.busy_timeout_s, pass_interval_s=settings.pass_interval_s,
    )
    return block


def mirror_devices(store: SchedulerStore, fleet: Fleet) -> None:
    """Another process's fleet view: take the devices' state from the store, so this
    worker's device sync agrees with the process that injects device faults."""
    now = datetime.now(UTC)
    for state in store.devices():
        device = fleet.devices.get(state.name)
        if device is None:
            continue
        device.online = state.online
        device.calibrated_at = now - timedelta(seconds=state.calibration_age_s)


def run_job(
    spec: JobSpec, fleet: Fleet, reserver: SchedulerReserver, block: QuantumScheduler,
    worker: str,
) -> JobOutcome:
    """One job through the production task functions, retried like ``hybrid_job``:
    transient execute failures are retried ``block.retries`` times with the block's
    backoff, then the job runs on the fallback simulator ([R1], [B4])."""
    start = time.monotonic()
    outcome = JobOutcome(spec.job_id, worker, ok=False)
    try:
        run = JobRun(pipeline.prepare(spec.request()), fleet, reserver)
        tasks_module.compile_task.fn(run)
        tasks_module.check_calibration_task.fn(run)
        tasks_module.reserve_task.fn(run)
        delays = [block.retry_backoff_s * 2 ** k for k in range(block.retries)]

        def execute(fallback_reason: str | None = None) -> ExecuteOutcome:
            """`execute_task` under the block's transient-only retries (Prefect's)."""
            for attempt in range(block.retries + 1):
                outcome.attempts += 1
                try:
                    return tasks_module.execute_task.fn(run, fallback_reason)
                except Exception as exc:
                    outcome.attempt_errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    if not is_transient(exc) or attempt == block.retries:
                        raise
                    time.sleep(delays[attempt])
            raise AssertionError("unreachable")

        try:
            result = execute()
        except Exception as exc:
            if not is_transient(exc):
                raise
            # [B4] retries exhausted: the fallback simulator, saying why (as hybrid_job).
            result = execute(fallback_reason=f"retries exhausted: {exc}")
        outcome.ok = True
        outcome.backend_kind = result.lease.backend_kind
        outcome.device = result.backend.name
        outcome.fallback_reason = result.lease.fallback_reason
        outcome.counts_per_circuit = [sum(c.values()) for c in result.execution.counts]
        outcome.runs = [f"{r.device}:{r.status}:{r.shots}:{r.chunks}" for r in run.runs]
    except Exception as exc:
        where = [f for f in traceback.extract_tb(exc.__traceback__)
                 if "prefect_quantum" in f.filename or "_chaos" in f.filename][-6:]
        outcome.error = f"{type(exc).__name__}: {exc} at " + " <- ".join(
            f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(where))
    outcome.seconds = time.monotonic() - start
    return outcome


def process_worker(
    settings: StoreSettings, specs: list[JobSpec], results_path: str, name: str,
    time_scale: float,
) -> None:
    """A worker process: runs `specs` one after another, appending each outcome and each
    accepted release to `results_path` as JSON lines (written before the next job, so
    they survive a SIGKILL)."""
    logging.getLogger("prefect").setLevel(logging.ERROR)
    for attempt in range(100):  # opening the store may meet a store outage
        try:
            block = make_block(settings, time_scale=time_scale)
            break
        except StoreBusyError:
            if attempt == 99:
                raise
            time.sleep(0.1)
    with open(results_path, "a", encoding="utf-8") as out, without_prefect_api():

        def sink(release: Release) -> None:
            out.write(json.dumps({"release": asdict(release)}) + "\n")
            out.flush()

        reserver = RecordingReserver(block, sink)
        for spec in specs:
            for _ in range(50):  # the device sync's own read may meet a store outage
                try:
                    mirror_devices(block.store, block.fleet)
                    break
                except Exception:
                    time.sleep(0.1)
            result = run_job(spec, block.fleet, reserver, block, name)
            out.write(json.dumps({"outcome": asdict(result)}) + "\n")
            out.flush()
    block.store.close()


def read_results(path: str) -> tuple[list[JobOutcome], list[Release]]:
    """The outcomes and releases a worker process wrote."""
    outcomes: list[JobOutcome] = []
    releases: list[Release] = []
    if not os.path.exists(path):
        return outcomes, releases
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut short by the kill
            item = json.loads(line)
            if "outcome" in item:
                outcomes.append(JobOutcome(**item["outcome"]))
            else:
                releases.append(Release(**item["release"]))
    return outcomes, releases


# -- store outages ----------------------------------------------------------------------


def is_postgres(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "postgresql"


def with_application_name(url: str) -> str:
    """PostgreSQL: tag the store's connections, so an outage terminates only them."""
    if not is_postgres(url):
        return url
    parsed = sa.make_url(url)
    name = f"pq_chaos_{uuid.uuid4().hex[:10]}"
    return parsed.update_query_dict({"application_name": name}).render_as_string(
        hide_password=False)


def store_outage(url: str, seconds: float, mode: str) -> None:
    """Make the store refuse writes for `seconds` (blocks for that long).

    SQLite ``lock``: another connection holds the write lock (``BEGIN IMMEDIATE``), so
    writers time out as when the writer process stalls. PostgreSQL ``lock``: another
    connection holds ``LOCK TABLE pq_scheduler_lock IN ACCESS EXCLUSIVE MODE``;
    ``terminate``: every connection of the store is killed (``pg_terminate_backend``), then
    new connections are refused by holding the lock for the rest of the time.
    """
    if not is_postgres(url):
        database = sa.make_url(url).database
        assert database
        raw = sqlite3.connect(database, timeout=30, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
            raw.execute("ROLLBACK")
        finally:
            raw.close()
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            app = sa.make_url(url).query.get("application_name")
            with conn.begin():
                conn.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
                conn.execute(sa.text("LOCK TABLE pq_scheduler_lock IN ACCESS EXCLUSIVE MODE"))
                if mode == "terminate" and app:
                    conn.execute(sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :app AND pid <> pg_backend_pid()"
                    ), {"app": app})
                time.sleep(seconds)
    finally:
        engine.dispose()


# -- the chaos run ----------------------------------------------------------------------


@dataclass
class ChaosConfig:
    url: str
    jobs: int = 500
    seed: int = 7
    threads: int = 4
    victim_jobs: int = 4
    process_jobs: int = 20
    steps: int = 25  # fault-controller steps over the run
    store_outages: int = 2
    store_outage_s: float = 3.0
    stale_events: int = 3
    lease_ttl_s: float = 1.5
    busy_timeout_s: float = 1.0
    victim_time_scale: float = 2.0
    time_limit_s: float = 240.0


@dataclass
class ChaosRun:
    """Everything a run produced, for `verify`."""

    settings: StoreSettings
    specs: list[JobSpec]
    outcomes: list[JobOutcome]
    releases: list[Release]
    faults: Counter[str]
    fault_log: list[str]
    killed_job: str | None = None
    killed_lease: str | None = None
    killed_at: float | None = None
    killed_shots: int = 0
    max_store_outage_s: float = 0.0
    seconds: float = 0.0
    events: Counter[str] = field(default_factory=Counter)


def _spawn(settings: StoreSettings, specs: list[JobSpec], path: str, name: str,
           time_scale: float) -> mp.process.BaseProcess:
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=process_worker, args=(settings, specs, path, name, time_scale),
                       name=name, daemon=True)
    proc.start()
    return proc


def _victim_mid_execute(store: SchedulerStore, victim_ids: Sequence[str], done_before: int,
                        path: str) -> tuple[str, str] | None:
    """A victim job that holds a lease and has a checkpoint with shots, once the victim
    completed `done_before` jobs: (job id, lease id)."""
    finished, _ = read_results(path)
    if len(finished) < done_before:
        return None
    for job_id in victim_ids:
        try:
            status = store.poll(job_id)
        except Exception:
            continue
        # A lease asked to yield is about to be released by the victim itself: killing
        # the victim then would not test a dead holder.
        if status.state != "running" or status.lease_id is None or status.preempt_requested:
            continue
        # The checkpoint must be this lease's: a lease that has saved one is in use, so
        # its death must end in expiry ([L6]), not in a re-run taking it over.
        with store._engine.connect() as conn:
            saved = conn.execute(sa.select(checkpoints.c.lease_id, checkpoints.c.shots_done)
                                 .where(checkpoints.c.job_id == job_id)).first()
        if saved and saved.lease_id == status.lease_id and saved.shots_done > 0 and \
                store.poll(job_id).lease_id == status.lease_id:
            return job_id, status.lease_id
    return None


def run_chaos(config: ChaosConfig, workdir: Path) -> ChaosRun:
    """Run `config.jobs` jobs under injected faults and return what happened."""
    start = time.monotonic()
    url = with_application_name(config.url)
    settings = StoreSettings(url, lease_ttl_s=config.lease_ttl_s,
                             busy_timeout_s=config.busy_timeout_s)
    rng = random.Random(f"{config.seed}:faults")
    specs = make_specs(config.jobs, config.seed)
    # The victim's jobs run slowly enough, with a checkpoint after every chunk, to be
    # caught mid-execute.
    victim_specs = [replace(s, job_id=f"victim-{s.job_id}", circuits=("bell",), shots=200,
                            chunk_shots=20, checkpoint_interval_s=0.0, priority="normal",
                            compliance_domain=None, fallback="noisy", max_wait_s=30.0)
                    for s in specs[: config.victim_jobs]]
    healthy_specs = [replace(s, job_id=f"proc-{s.job_id}") for s in
                     specs[config.victim_jobs: config.victim_jobs + config.process_jobs]]
    local_specs = specs[config.victim_jobs + config.process_jobs:]
    all_specs = victim_specs + healthy_specs + local_specs

    block = make_block(settings)
    fleet = block.fleet
    store = block.store
    faults: Counter[str] = Counter()
    fault_log: list[str] = []
    outcomes: list[JobOutcome] = []
    releases: list[Release] = []
    lock = threading.Lock()

    def sink(release: Release) -> None:
        with lock:
            releases.append(release)

    def note(kind: str, detail: str) -> None:
        with lock:
            faults[kind] += 1
            fault_log.append(f"{time.monotonic() - start:7.2f}s {kind}: {detail}")

    reserver = RecordingReserver(block, sink)
    # The devices are registered before any worker starts.
    block.reserver()._sync_devices()

    victim_path = str(workdir / "victim.jsonl")
    healthy_path = str(workdir / "healthy.jsonl")
    victim = _spawn(settings, victim_specs, victim_path, "victim", config.victim_time_scale)
    healthy = _spawn(settings, healthy_specs, healthy_path, "healthy", 0.0)

    work: queue.Queue[JobSpec | None] = queue.Queue()
    # The killed worker's jobs run again before the rest, as a worker's re-run of a
    # crashed flow run would: soon, not after every queued job.
    reruns: queue.Queue[JobSpec] = queue.Queue()
    for spec in local_specs:
        work.put(spec)
    completed = [0]
    queued = [len(local_specs)]
    deadline = time.monotonic() + config.time_limit_s

    with without_prefect_api() as events:

        def thread_worker(index: int) -> None:
            while time.monotonic() < deadline:
                try:
                    spec = reruns.get_nowait() if not reruns.empty() else work.get(timeout=0.2)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                if spec is None:
                    return
                result = run_job(spec, fleet, reserver, block, f"thread-{index}")
                with lock:
                    outcomes.append(result)
                    completed[0] += 1

        stop = threading.Event()
        threads = [threading.Thread(target=thread_worker, args=(i,), daemon=True)
                   for i in range(config.threads)]
        for thread in threads:
            thread.start()

        # Fault plan: one controller step per 1/steps of the local jobs.
        model = FaultModel(config.seed, offline_probability=0.08,
                           offline_mid_job_probability=0.15, recovery_probability=0.5,
                           drift_scale=0.3, drift_probability=0.2)
        outage_steps = set(rng.sample(range(2, config.steps - 2), config.store_outages))
        stale_steps = set(rng.sample(range(1, config.steps - 3), config.stale_events))
        stale: dict[str, int] = {}
        outage_threads: list[threading.Thread] = []
        max_outage = 0.0
        killed: tuple[str, str] | None = None
        killed_at: float | None = None
        killed_shots = 0
        victim_ids = [s.job_id for s in victim_specs]
        step = 0
        per_step = max(1, len(local_specs) // config.steps)
        while time.monotonic() < deadline:
            with lock:
                done = completed[0]
            if killed is None and victim.is_alive():
                found = _victim_mid_execute(store, victim_ids, 1, victim_path)
                if found is not None:
                    assert victim.pid is not None
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_at = time.time()
                    victim.join(10)
                    killed = found
                    saved = store.load_checkpoint(found[0]) or {}
                    killed_shots = int(saved.get("shots_done", 0))
                    note("worker_sigkill", f"victim pid {victim.pid} on {found[0]} after "
                                           f"{killed_shots} checkpointed shots")
                    finished, _ = read_results(victim_path)
                    over = {o.job_id for o in finished}
                    for spec in victim_specs:  # another worker runs the rest, same ids
                        if spec.job_id not in over:
                            with lock:
                                queued[0] += 1
                            reruns.put(spec)
            if step < config.steps and done >= (step + 1) * per_step:
                step += 1
                now = datetime.now(UTC)
                for event in model.step(fleet, now):
                    kind = {"offline": "device_outage", "online": "device_recovered",
                            "drift": "drift"}[event.kind]
                    if event.kind == "offline" and "mid-job" in event.detail:
                        kind = "device_outage_mid_job"
                    note(kind, f"{event.device}: {event.detail}")
                for name, until in list(stale.items()):
                    if step >= until:
                        fleet.get(name).recalibrate(fleet.get(name).calibration,
                                                    calibrated_at=now)
                        del stale[name]
                        note("calibration_refreshed", name)
                if step in stale_steps:
                    name = rng.choice([d for d in DEVICES if d not in stale])
                    bound = block.calibration_max_age_s
                    fleet.get(name).calibrated_at = now - timedelta(seconds=bound + 600)
                    stale[name] = step + 3
                    note("calibration_stale", f"{name} older than {bound:.0f} s")
                if step in outage_steps:
                    mode = "terminate" if is_postgres(url) and faults["store_outage"] % 2 \
                        else "lock"
                    seconds = config.store_outage_s
                    max_outage = max(max_outage, seconds)
                    thread = threading.Thread(target=store_outage, args=(url, seconds, mode),
                                              daemon=True)
                    thread.start()
                    outage_threads.append(thread)
                    note("store_outage", f"{mode} for {seconds:g} s")
            with lock:
                drained = completed[0] >= queued[0]
            # A victim that finished before it could be killed: the run says so (no kill).
            victim_over = killed is not None or not victim.is_alive()
            if drained and victim_over and not healthy.is_alive():
                break
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(30)
        for thread in outage_threads:
            thread.join(30)
    for proc in (victim, healthy):
        if proc.is_alive():
            proc.kill()
        proc.join(10)
    for name in stale:  # leave the fleet healthy
        fleet.get(name).recalibrate(fleet.get(name).calibration)
    for path in (victim_path, healthy_path):
        more, rel = read_results(path)
        outcomes.extend(more)
        releases.extend(rel)
    store.close()
    return ChaosRun(
        settings=settings, specs=all_specs, outcomes=outcomes, releases=releases,
        faults=faults, fault_log=fault_log,
        killed_job=killed[0] if killed else None, killed_lease=killed[1] if killed else None,
        killed_at=killed_at,
        killed_shots=killed_shots, max_store_outage_s=max_outage,
        seconds=time.monotonic() - start, events=events,
    )


def _chaos_child(config: ChaosConfig, workdir: Path, out: str) -> None:
    logging.getLogger("prefect").setLevel(logging.ERROR)
    run = run_chaos(config, workdir)
    with open(out, "wb") as file:
        pickle.dump(run, file)


def run_chaos_isolated(config: ChaosConfig, workdir: Path) -> ChaosRun:
    """`run_chaos` in a fresh process: its stubs of the Prefect calls stay there, and Aer
    runs with ``OMP_NUM_THREADS=1`` (OpenMP's thread pool costs tiny runs 2-3x)."""
    out = str(workdir / "chaos-run.pickle")
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        proc = mp.get_context("spawn").Process(target=_chaos_child, args=(config, workdir, out))
        proc.start()
    finally:
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    proc.join(config.time_limit_s + 120)
    if proc.is_alive():
        proc.kill()
        proc.join(10)
        raise RuntimeError("the chaos run did not finish in time")
    if proc.exitcode != 0:
        raise RuntimeError(f"the chaos run failed (exit code {proc.exitcode})")
    with open(out, "rb") as file:
        run: ChaosRun = pickle.load(file)
    return run


# -- a paused worker ----------------------------------------------------------------------


def paused_worker_run(url: str, workdir: Path, *, ttl: float = 3.0,
                      time_scale: float = 3.0, wake_after_s: float = 0.05) -> dict[str, Any]:
    """A worker process is paused (SIGSTOP: a GC pause, a suspended VM, a partition) in
    the middle of a job; the job is run again by another worker, as a crashed flow run
    is re-run; then the paused worker wakes up (SIGCONT) while the re-run still executes.
    Returns both workers' outcomes: the job must not complete twice."""
    settings = StoreSettings(url, lease_ttl_s=ttl, busy_timeout_s=5.0)
    block = make_block(settings, time_scale=time_scale)
    block.reserver()._sync_devices()
    spec = JobSpec("paused-0001", "chem", "normal", ("bell",), 200, 20, "noisy", None, 60.0)
    path = str(workdir / "paused.jsonl")
    worker = _spawn(settings, [spec], path, "paused", time_scale)
    store = block.store
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        saved = store.load_checkpoint(spec.job_id) if _known(store, spec.job_id) else None
        if saved and saved.get("shots_done", 0) > 0:
            break
        time.sleep(0.02)
    else:
        worker.kill()
        raise RuntimeError("the worker never checkpointed")
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)
    paused_at_shots = int(saved["shots_done"])
    rerun: list[JobOutcome] = []
    releases: list[Release] = []
    with without_prefect_api():
        reserver = RecordingReserver(block, releases.append)
        thread = threading.Thread(target=lambda: rerun.append(
            run_job(spec, block.fleet, reserver, block, "rerun")))
        thread.start()
        time.sleep(wake_after_s)  # the re-run holds the job now, and runs on
        os.kill(worker.pid, signal.SIGCONT)
        thread.join(120)
    worker.join(120)
    if worker.is_alive():
        worker.kill()
    first, worker_releases = read_results(path)
    outcomes = first + rerun
    ok = [o for o in outcomes if o.ok]
    completions = [r for r in store.audit(spec.job_id) if r["kind"] == "completed"]
    store.close()
    return {
        "paused_at_shots": paused_at_shots,
        "outcomes": [asdict(o) for o in outcomes],
        "completed_runs": len(ok),
        "completion_records": len(completions),
        "releases": [asdict(r) for r in worker_releases + releases],
    }


def _known(store: SchedulerStore, job_id: str) -> bool:
    try:
        store.poll(job_id)
    except Exception:
        return False
    return True


# -- the Prefect path: hybrid_job flow runs while the API answers 503 ---------------------


class Window:
    """A time window, opened by `open`, during which faults are injected."""

    def __init__(self) -> None:
        self._until = 0.0

    def open(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds

    def active(self) -> bool:
        return time.monotonic() < self._until


@contextmanager
def api_503(window: Window) -> Iterator[Counter[str]]:
    """While `window` is open, every HTTP request of this process's Prefect clients is
    answered ``503 Service Unavailable`` (httpx transports patched, sync and async), as
    an overloaded API or a proxy in front of a restarting server would. Counts them."""
    import httpx

    injected: Counter[str] = Counter()
    original_async = httpx.AsyncHTTPTransport.handle_async_request
    original_sync = httpx.HTTPTransport.handle_request

    async def handle_async(self: httpx.AsyncHTTPTransport, request: httpx.Request
                           ) -> httpx.Response:
        if window.active():
            injected[request.url.path] += 1
            return httpx.Response(503, request=request, text="injected by the chaos harness")
        return await original_async(self, request)

    def handle_sync(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if window.active():
            injected[request.url.path] += 1
            return httpx.Response(503, request=request, text="injected by the chaos harness")
        return original_sync(self, request)

    httpx.AsyncHTTPTransport.handle_async_request = handle_async  # type: ignore[method-assign]
    httpx.HTTPTransport.handle_request = handle_sync  # type: ignore[method-assign]
    try:
        yield injected
    finally:
        httpx.AsyncHTTPTransport.handle_async_request = original_async  # type: ignore[method-assign]
        httpx.HTTPTransport.handle_request = original_sync  # type: ignore[method-assign]


def run_flow_jobs(url: str, count: int, seed: int, *, window_s: float = 1.5,
                  ttl: float = 2.0) -> ChaosRun:
    """`count` jobs as real ``hybrid_job`` flow runs (needs a Prefect API, e.g.
    ``prefect_test_harness``), one after another: the API answers 503 for `window_s`
    from the start of every fourth run, and every third run's devices go offline after
    their first chunk (they are back for the next run)."""
    from prefect_quantum.flows import hybrid_job

    start = time.monotonic()
    settings = StoreSettings(url, lease_ttl_s=ttl, busy_timeout_s=2.0)
    block = make_block(settings)
    releases: list[Release] = []
    reserver = RecordingReserver(block, releases.append)
    specs = [replace(s, chunk_shots=20, fallback="noisy", compliance_domain=None)
             for s in make_specs(count, seed, prefix="flow")]
    faults: Counter[str] = Counter()
    log: list[str] = []
    outcomes: list[JobOutcome] = []
    window = Window()
    with api_503(window) as injected:
        for i, spec in enumerate(specs):
            for device in block.fleet.devices.values():
                device.online = True
            if i % 3 == 1:
                for device in block.fleet.devices.values():
                    device.schedule_outage(after_chunks=1)
                faults["device_outage_mid_job"] += 1
                log.append(f"{spec.job_id}: every device goes offline after one chunk")
            if i % 4 == 2:
                window.open(window_s)
                faults["api_503_window"] += 1
                log.append(f"{spec.job_id}: the API answers 503 for {window_s:g} s")
            began = time.monotonic()
            outcome = JobOutcome(spec.job_id, "flow", ok=False)
            try:
                result = hybrid_job(
                    list(spec.circuits), shots=spec.shots, tenant=spec.tenant,
                    priority=spec.priority,
                    options=spec.request().options, scheduler=block, reserver=reserver,
                )
                rows = result.to_dicts()
                outcome.ok = True
                outcome.backend_kind = rows[0]["backend_kind"]
                outcome.device = rows[0]["device"]
                outcome.fallback_reason = rows[0]["fallback_reason"]
                outcome.counts_per_circuit = [int(r["shots"]) for r in rows]
                outcome.runs = [f"{r['device']}:{r['status']}:{r['shots']}"
                                for r in result.device_runs.to_dicts()]
            except Exception as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.seconds = time.monotonic() - began
            outcomes.append(outcome)
            for device in block.fleet.devices.values():
                device.drain_outage_notes()
                device.schedule_outage(after_chunks=10**9)  # disarm what did not fire
    faults["api_503_responses"] = sum(injected.values())
    for device in block.fleet.devices.values():
        device.online = True
    block.store.close()
    return ChaosRun(settings=settings, specs=specs, outcomes=outcomes, releases=releases,
                    faults=faults, fault_log=log, seconds=time.monotonic() - start)


# -- verification -------------------------------------------------------------------------


@dataclass
class Verdict:
    """The invariants' figures; `violations` lists every broken one in words."""

    jobs_run: int = 0
    completed_on_qpu: int = 0
    completed_on_fallback: int = 0
    refused_by_policy: int = 0
    not_completed: int = 0
    shots_lost: int = 0
    jobs_duplicated: int = 0
    compliance_violations: int = 0
    leases_granted: int = 0
    leases_expired: int = 0
    max_expiry_lateness_s: float = 0.0
    killed_lease_expired_after_s: float | None = None
    killed_lease_fate: str | None = None
    resumed_from_checkpoint: bool | None = None
    ledger_rows: int = 0
    ledger_mismatches: int = 0
    audit_records: int = 0
    audit_first_bad: int | None = None
    violations: list[str] = field(default_factory=list)


def verify(run: ChaosRun, expiry_slack_s: float = 2.0) -> Verdict:
    """Check every invariant of issue #7 item 1 on the store the run left."""
    v = Verdict()
    store = SchedulerStore(run.settings.url, make_block(run.settings).policy())
    try:
        return _verify(run, store, v, expiry_slack_s)
    finally:
        store.close()


def _verify(run: ChaosRun, store: SchedulerStore, v: Verdict, slack: float) -> Verdict:
    bad = v.violations
    specs = {s.job_id: s for s in run.specs}
    jobs = {q["job_id"]: q for q in store.queue(include_finished=True)}
    audit = store.audit()
    ledger = store.ledger()
    by_job: dict[str, list[JobOutcome]] = defaultdict(list)
    for outcome in run.outcomes:
        by_job[outcome.job_id].append(outcome)
    audit_by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in audit:
        if record["job_id"]:
            audit_by_job[record["job_id"]].append(record)
    v.jobs_run = len(specs)
    authorized = set(COMPLIANCE[DOMAIN])

    for job_id, spec in specs.items():
        job = jobs.get(job_id)
        ok = [o for o in by_job.get(job_id, []) if o.ok]
        completions = [r for r in audit_by_job.get(job_id, []) if r["kind"] == "completed"]
        if len(ok) > 1 or len(completions) > 1:
            v.jobs_duplicated += 1
            bad.append(f"{job_id}: ran {len(ok)} times, {len(completions)} completion records")
        for o in ok:
            if any(n > spec.shots for n in o.counts_per_circuit):
                v.jobs_duplicated += 1
                bad.append(f"{job_id}: counts {o.counts_per_circuit} exceed {spec.shots} shots")
        if spec.compliance_domain is not None:
            for record in audit_by_job.get(job_id, []):
                if record["kind"] == "granted" and record["device"] not in authorized:
                    v.compliance_violations += 1
                    bad.append(f"{job_id}: restricted job granted {record['device']}")
            for o in ok:
                if o.backend_kind == "qpu" and o.device not in authorized:
                    v.compliance_violations += 1
                    bad.append(f"{job_id}: restricted job ran on {o.device}")
                if o.backend_kind != "qpu":
                    v.compliance_violations += 1
                    bad.append(f"{job_id}: restricted job ran on an unauthorized simulator")
        if job is None:
            v.not_completed += 1
            v.shots_lost += spec.shots
            bad.append(f"{job_id}: never reached the store; worker said "
                       f"{[o.error for o in by_job.get(job_id, [])]}")
            continue
        if job["state"] == "rejected":
            # Declared refusals: a restricted job with no authorized device or simulator
            # left ([C2]); a fallback='none' job whose retries are exhausted ([B4], [B5]).
            v.refused_by_policy += 1
            reason = job["reason"] or ""
            declared = (spec.compliance_domain is not None and "[C2]" in reason) or (
                spec.fallback == "none" and "[B4]" in reason)
            if not declared:
                bad.append(f"{job_id}: refused without a declared reason: {reason}")
            continue
        if job["state"] != "completed" or not ok:
            v.not_completed += 1
            v.shots_lost += spec.shots
            errors = [o.error for o in by_job.get(job_id, [])]
            tried = [o.attempt_errors for o in by_job.get(job_id, [])]
            bad.append(f"{job_id}: store state {job['state']} ({job['reason']}); "
                       f"worker: {errors}; attempts: {tried}")
            continue
        outcome = ok[-1]
        lost = spec.shots - min(outcome.counts_per_circuit)
        if lost > 0 or len(outcome.counts_per_circuit) != len(spec.circuits):
            v.shots_lost += max(lost, 0)
            bad.append(f"{job_id}: counts {outcome.counts_per_circuit} != {spec.shots} shots")
        if outcome.backend_kind == "qpu":
            v.completed_on_qpu += 1
            if job.get("fallback_kind"):
                bad.append(f"{job_id}: ran on a QPU but the store says fallback")
        else:
            v.completed_on_fallback += 1
            if not outcome.fallback_reason:
                bad.append(f"{job_id}: fallback without a declared reason")
    for job_id in by_job:
        if job_id not in specs:
            bad.append(f"{job_id}: an outcome for a job nobody submitted")

    # Leases: no double grant, every lease ended, none outlived its holder.
    holder: dict[str, str] = {}
    job_lease: dict[str, str] = {}
    grants: dict[str, dict[str, Any]] = {}
    ends: dict[str, dict[str, Any]] = {}
    for record in audit:
        lease_id = record["detail"].get("lease_id")
        if record["kind"] == "granted":
            v.leases_granted += 1
            if record["device"] in holder:
                bad.append(f"double grant of {record['device']} at seq {record['seq']}")
            if record["job_id"] in job_lease:
                bad.append(f"{record['job_id']} holds two leases at seq {record['seq']}")
            holder[record["device"]] = lease_id
            job_lease[record["job_id"]] = lease_id
            grants[lease_id] = record
        elif record["kind"] == "lease_fenced":  # [L6] the same lease under a new id
            new_id = record["detail"]["new_lease_id"]
            if holder.get(record["device"]) != lease_id or lease_id not in grants:
                bad.append(f"seq {record['seq']} fences a lease that does not hold the device")
            holder[record["device"]] = job_lease[record["job_id"]] = new_id
            grants[new_id] = grants.pop(lease_id, record)
        elif record["kind"] in ("released", "expired"):
            if holder.get(record["device"]) != lease_id:
                bad.append(f"seq {record['seq']} ends a lease that does not hold the device")
            holder.pop(record["device"], None)
            job_lease.pop(record["job_id"], None)
            if lease_id in ends:
                bad.append(f"lease {lease_id} ended twice")
            ends[lease_id] = record
            if record["kind"] == "expired":
                v.leases_expired += 1
                started = grants[lease_id]["at"]
                deadline = started + record["detail"]["qpu_seconds"]
                lateness = record["at"] - deadline
                v.max_expiry_lateness_s = max(v.max_expiry_lateness_s, lateness)
                if lateness > run.max_store_outage_s + slack:
                    bad.append(f"lease {lease_id} expired {lateness:.2f} s after its deadline")
    if store.leases():
        bad.append(f"leases left at the end: {store.leases()}")
    if set(grants) != set(ends):
        bad.append(f"leases granted but never ended: {sorted(set(grants) - set(ends))}")

    if run.killed_job is not None and run.killed_at is not None:
        _check_killed(run, audit_by_job[run.killed_job], by_job[run.killed_job], v, slack)

    # Billing: one ledger row per lease, equal to what its holder reported, or to the
    # time the lease held the device when it expired.
    v.ledger_rows = len(ledger)
    rows = {r["lease_id"]: r for r in ledger}
    if len(rows) != len(ledger):
        v.ledger_mismatches += len(ledger) - len(rows)
        bad.append("a lease was charged twice")
    if set(rows) != set(grants):
        v.ledger_mismatches += len(set(rows) ^ set(grants))
        bad.append(f"ledger and leases differ: {sorted(set(rows) ^ set(grants))[:5]}")
    reported = {r.lease_id: r for r in run.releases if r.backend_kind == "qpu"}
    for lease_id, row in rows.items():
        end = ends.get(lease_id)
        grant = grants.get(lease_id)
        if grant is not None and (row["tenant"], row["job_id"], row["device"]) != (
                grant["tenant"], grant["job_id"], grant["device"]):
            v.ledger_mismatches += 1
            bad.append(f"lease {lease_id} charged to the wrong tenant, job or device")
        if row["outcome"] == "expired":
            if end is None or end["detail"]["qpu_seconds"] != row["qpu_seconds"]:
                v.ledger_mismatches += 1
                bad.append(f"expired lease {lease_id}: ledger {row['qpu_seconds']} != audit")
            continue
        worker = reported.get(lease_id)
        if worker is None or worker.qpu_seconds != row["qpu_seconds"] or \
                worker.outcome != row["outcome"]:
            v.ledger_mismatches += 1
            bad.append(f"lease {lease_id}: ledger {row['qpu_seconds']} {row['outcome']} != "
                       f"worker {worker}")
    for lease_id in reported:
        if lease_id not in rows:
            v.ledger_mismatches += 1
            bad.append(f"release of {lease_id} accepted but not charged")

    v.audit_records = len(audit)
    v.audit_first_bad = store.verify_audit()
    if v.audit_first_bad is not None:
        bad.append(f"audit chain broken at seq {v.audit_first_bad}")
    return v


def _check_killed(run: ChaosRun, records: list[dict[str, Any]], outcomes: list[JobOutcome],
                  v: Verdict, slack: float) -> None:
    """The SIGKILLed worker's lease ended: it expired within the bound ([L1]), or a re-run
    took it over ([L6]), or the victim released it itself just before dying. Then the
    job's re-run ran only the shots its checkpoint lacked, on a QPU ([L3])."""
    bad = v.violations
    assert run.killed_at is not None
    ends = [r for r in records if r["kind"] in ("expired", "released")
            and r["detail"].get("lease_id") == run.killed_lease]
    spec = next(s for s in run.specs if s.job_id == run.killed_job)
    rerun = [o for o in outcomes if o.ok and o.worker != "victim"]
    if not ends or not rerun:
        bad.append(f"the killed worker's lease on {run.killed_job} neither ended nor was "
                   f"its job run again")
        return
    end = ends[0]
    if end["kind"] == "expired":
        v.killed_lease_fate = "expired"
        after = end["at"] - run.killed_at
        v.killed_lease_expired_after_s = after
        if after > run.settings.lease_ttl_s + run.max_store_outage_s + slack:
            bad.append(f"the killed worker's lease outlived it by {after:.2f} s")
    else:
        v.killed_lease_fate = ("released_before_kill" if end["at"] <= run.killed_at
                               else "taken_over")
    # The re-run's first device run ran only what the checkpoint lacked.
    device, status, _, chunks = rerun[0].runs[0].rsplit(":", 3)
    ran = int(chunks) * spec.chunk_shots
    v.resumed_from_checkpoint = (rerun[0].backend_kind == "qpu" and run.killed_shots > 0
                                 and ran <= spec.shots - run.killed_shots)
    if not v.resumed_from_checkpoint:
        bad.append(f"{run.killed_job} did not resume from its checkpoint of "
                   f"{run.killed_shots} shots ({v.killed_lease_fate}; re-run "
                   f"{rerun[0].backend_kind} on {device}, {status}, {ran} shots)")


def summary(run: ChaosRun, verdict: Verdict) -> dict[str, Any]:
    """The figures `benchmarks/reliability.py` prints for one backend."""
    return {
        "backend": "postgresql" if is_postgres(run.settings.url) else "sqlite",
        "seconds": round(run.seconds, 1),
        "faults_injected": dict(sorted(run.faults.items())),
        **{k: v for k, v in asdict(verdict).items() if k != "violations"},
        "violations": verdict.violations[:20],
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-quantile (0..1) by nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
