"""Reliability figures of issue #7 as ONE JSON object on stdout.

- The chaos run (``benchmarks/_chaos.py``, the harness of ``tests/chaos``): ``--jobs`` jobs
  of four tenants under seeded faults (device outages, mid-job outages, drift, stale
  calibration, store outages, a SIGKILLed worker), on SQLite and on PostgreSQL
  (``PREFECT_QUANTUM_BENCH_PG_URL``, default ``postgresql+psycopg://127.0.0.1:5432/test``),
  plus ``--flow-jobs`` real ``hybrid_job`` flow runs under ``prefect_test_harness`` while
  the Prefect API answers 503 for a while.
- Bad inputs (``benchmarks/_badinput.py``, another harness) for ``--bad-input-s`` seconds.
- Audit tampering: ``--tamper`` records of a copy of the SQLite store are altered (a field
  changed, or the record deleted), one at a time; ``verify_audit`` must name each.
- Load (``benchmarks/load.py``): ``--load-jobs`` jobs from ``--load-processes`` processes
  on SQLite and PostgreSQL; ``--skip-load`` to leave it out.

    python benchmarks/reliability.py [--jobs 500] [--seed 7] [--load-jobs 10000] [--skip-load]

Figures that must be 0: shots_lost, jobs_duplicated, compliance_violations,
bad_inputs.accepted_wrongly, load.*.capacity_exceeded; audit_tampering.detected must
equal audit_tampering.tampered.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import _chaos  # noqa: E402
import load  # noqa: E402

from prefect_quantum.scheduling import PolicyConfig  # noqa: E402
from prefect_quantum.store import SchedulerStore  # noqa: E402

PG_URL = os.environ.get("PREFECT_QUANTUM_BENCH_PG_URL",
                        "postgresql+psycopg://127.0.0.1:5432/test")
_TOTALS = ("jobs_run", "completed_on_qpu", "completed_on_fallback", "refused_by_policy",
           "not_completed", "shots_lost", "jobs_duplicated", "compliance_violations",
           "ledger_mismatches")


def chaos(url: str, jobs: int, seed: int, workdir: Path) -> dict[str, Any]:
    run = _chaos.run_chaos_isolated(_chaos.ChaosConfig(url=url, jobs=jobs, seed=seed),
                                    workdir)
    return _chaos.summary(run, _chaos.verify(run))


def flows(jobs: int, seed: int, workdir: Path) -> dict[str, Any]:
    from prefect.settings import temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect").setLevel(logging.ERROR)
    with prefect_test_harness(server_startup_timeout=120), temporary_settings(
            updates={"flows.heartbeat_frequency": None}):
        run = _chaos.run_flow_jobs(f"sqlite:///{workdir / 'flows.db'}", jobs, seed)
    report = _chaos.summary(run, _chaos.verify(run))
    report["errors"] = [o.error for o in run.outcomes if not o.ok]
    return report


def paused(workdir: Path) -> dict[str, Any]:
    """A worker SIGSTOPped mid-job, its job re-run elsewhere, then SIGCONTed."""
    result = _chaos.paused_worker_run(f"sqlite:///{workdir / 'paused.db'}", workdir)
    return {"completed_runs": result["completed_runs"],
            "completion_records": result["completion_records"],
            "duplicated": int(result["completed_runs"] > 1
                              or result["completion_records"] > 1),
            "other_run": next((o["error"] for o in result["outcomes"] if not o["ok"]), None)}


def tamper(database: str, count: int, seed: int) -> dict[str, Any]:
    """Alter `count` random audit records of a copy of `database`, one at a time; each is
    detected when ``verify_audit`` names the first record whose chain breaks (the
    altered one, or the one after a deleted record)."""
    rng = random.Random(f"{seed}:tamper")
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "copy.db")
        source = sqlite3.connect(database)
        target = sqlite3.connect(copy)
        source.backup(target)  # includes what is still in the WAL
        source.close()
        store = SchedulerStore(f"sqlite:///{copy}", PolicyConfig())
        detected = 0
        kinds: Counter[str] = Counter()
        missed: list[str] = []
        try:
            last = target.execute("SELECT max(seq) FROM pq_audit_log").fetchone()[0]
            if store.verify_audit() is not None:
                return {"tampered": 0, "detected": 0, "error": "the copy's chain is broken"}
            # The last record is left out of deletions: a chain alone cannot tell a
            # truncated tail from a shorter log.
            for seq in rng.sample(range(1, last), min(count, last - 1)):
                row = target.execute(
                    "SELECT at, kind, job_id, tenant, device, reason, detail FROM "
                    "pq_audit_log WHERE seq = ?", (seq,)).fetchone()
                kind = rng.choice(("reason", "at", "detail", "tenant", "device", "delete"))
                kinds[kind] += 1
                if kind == "delete":
                    full = target.execute("SELECT * FROM pq_audit_log WHERE seq = ?",
                                          (seq,)).fetchone()
                    target.execute("DELETE FROM pq_audit_log WHERE seq = ?", (seq,))
                    expected = seq + 1
                else:
                    value: Any = {
                        "reason": "edited by the tamper test",
                        "at": (row[0] or 0.0) + 0.001,
                        "detail": json.dumps({"edited": True}),
                        "tenant": "mallory",
                        "device": "ibm_elsewhere",
                    }[kind]
                    target.execute(f"UPDATE pq_audit_log SET {kind} = ? WHERE seq = ?",
                                   (value, seq))
                    expected = seq
                target.commit()
                found = store.verify_audit()
                if found == expected:
                    detected += 1
                else:
                    missed.append(f"seq {seq} ({kind}): verify_audit said {found}")
                if kind == "delete":  # restore, then check the chain is whole again
                    marks = ",".join("?" * len(full))
                    target.execute(f"INSERT INTO pq_audit_log VALUES ({marks})", full)
                else:
                    target.execute(
                        "UPDATE pq_audit_log SET at = ?, kind = ?, job_id = ?, tenant = ?, "
                        "device = ?, reason = ?, detail = ? WHERE seq = ?", (*row, seq))
                target.commit()
                if store.verify_audit() is not None:
                    missed.append(f"seq {seq}: the restored chain does not verify")
        finally:
            store.close()
            target.close()
    return {"tampered": sum(kinds.values()), "detected": detected,
            "by_kind": dict(sorted(kinds.items())), "missed": missed}


def run_load(jobs: int, processes: int, skip_pg: bool) -> dict[str, Any]:
    """``benchmarks/load.py`` in its own interpreter: its worker processes then import the
    store only, not this script's imports (qiskit, Prefect), so their RSS is the store's."""
    command = [sys.executable, str(HERE / "load.py"), "--jobs", str(jobs), "--processes",
               str(processes), *(["--skip-pg"] if skip_pg else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return {"sqlite": figures["sqlite"], "postgresql": figures["postgresql"]}


def bad_inputs(budget_s: float) -> dict[str, Any]:
    if importlib.util.find_spec("_badinput") is None:
        return {"tried": None, "accepted_wrongly": None,
                "reason": "benchmarks/_badinput.py is not present"}
    import _badinput

    result: dict[str, Any] = _badinput.run(budget_s)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="chaos jobs per backend")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--flow-jobs", type=int, default=12,
                        help="hybrid_job flow runs behind a 503ing API (0: skip)")
    parser.add_argument("--bad-input-s", type=float, default=60.0)
    parser.add_argument("--tamper", type=int, default=50)
    parser.add_argument("--load-jobs", type=int, default=10_000)
    parser.add_argument("--load-processes", type=int, default=8)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # only the JSON goes to stdout
        report = _measure(args)
    json.dump(report, out, indent=2, default=str)
    print(file=out)


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    report: dict[str, Any] = {"benchmark": "reliability", "seed": args.seed,
                              "cpu_count": os.cpu_count(),
                              "load_avg_1m_before": round(os.getloadavg()[0], 2)}
    backends: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sqlite").mkdir()
        database = work / "sqlite" / "scheduler.db"
        backends["sqlite"] = chaos(f"sqlite:///{database}", args.jobs, args.seed,
                                   work / "sqlite")
        if not args.skip_pg:
            with load.pg_schema(PG_URL) as url:
                if url is None:
                    backends["postgresql"] = None
                else:
                    (work / "pg").mkdir()
                    backends["postgresql"] = chaos(url, args.jobs, args.seed, work / "pg")
        if args.flow_jobs:
            (work / "flows").mkdir()
            backends["flows"] = flows(args.flow_jobs, args.seed, work / "flows")
        (work / "paused").mkdir()
        report["paused_worker"] = paused(work / "paused")
        report["audit_tampering"] = tamper(str(database), args.tamper, args.seed)
    faults: Counter[str] = Counter()
    for figures in backends.values():
        if figures:
            faults.update(figures["faults_injected"])
    ran = [f for f in backends.values() if f]
    totals = {key: sum(f[key] for f in ran) for key in _TOTALS}
    faults["worker_sigstop"] += 1
    totals["jobs_run"] += 1
    totals["jobs_duplicated"] += report["paused_worker"]["duplicated"]
    report = {
        **report,
        "jobs_run": totals["jobs_run"],
        "faults_injected": dict(sorted(faults.items())),
        **{k: v for k, v in totals.items() if k != "jobs_run"},
        "audit_chains_verified": all(f["audit_first_bad"] is None for f in ran),
        "violations": [v for f in ran for v in f["violations"]][:20],
        "bad_inputs": bad_inputs(args.bad_input_s),
        "audit_tampering": report["audit_tampering"],
        "by_backend": backends,
    }
    if args.skip_load:
        report["load"] = None
    else:
        report["load"] = run_load(args.load_jobs, args.load_processes, args.skip_pg)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


if __name__ == "__main__":
    main()
