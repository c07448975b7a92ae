"""The policy benchmark: determinism, traces, scenarios, baselines and metrics."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from prefect_quantum.scheduling import decide
from prefect_quantum.simulation import baselines
from prefect_quantum.simulation.bench import (
    acceptance,
    config_for,
    policies_for,
    run_bench,
    summarize,
)
from prefect_quantum.simulation.engine import BENCH_CONFIG, simulate
from prefect_quantum.simulation.fleet_model import (
    FLEET,
    SCENARIOS,
    draw_timeline,
    success_probability,
)
from prefect_quantum.simulation.icpp_model import DEFAULT_JOBS
from prefect_quantum.simulation.metrics import contention_jain, run_metrics
from prefect_quantum.simulation.trace import TraceJob, generate_trace, load_trace, save_trace
from prefect_quantum.simulation.value_bound import REFERENCE_CLOPS, value_rate_bound


def test_same_seed_same_output_and_seeds_differ() -> None:
    a = run_bench(["degraded"], seeds=2, policies=["production", "static_priority"]).runs
    b = run_bench(["degraded"], seeds=2, policies=["production", "static_priority"]).runs
    assert a.equals(b)
    first, second = (a.filter(pl.col("seed") == s)["wait_mean_s"].to_list() for s in (0, 1))
    assert first != second


def test_the_benchmark_drives_productions_decide() -> None:
    available = policies_for(generate_trace(0))
    assert available["production"] is decide and available["production_tolerant"] is decide
    tolerant = config_for("production_tolerant", BENCH_CONFIG)
    assert tolerant.fair_tolerance > 0 and config_for("production", BENCH_CONFIG) is BENCH_CONFIG


@pytest.mark.parametrize("scenario", ["calm", "degraded"])
def test_production_criteria_that_hold_over_20_seeds(scenario: str) -> None:
    """Zero compliance violations, and P95 wait within 1.5x of the oracle's (issue #4)."""
    runs = run_bench([scenario], seeds=20, policies=["production", "oracle"]).runs
    assert runs["compliance_violations"].sum() == 0
    assert (runs["utilization"] > 0.5).all()
    checks = {c["criterion"]: c for c in acceptance(summarize(runs))}
    assert checks["P95 wait / oracle's"]["met"], checks
    oracle = runs.filter(pl.col("policy") == "oracle")
    assert oracle["sla_violation_rate"].max() <= 0.02


@pytest.mark.parametrize("scenario", ["calm", "degraded"])
def test_tolerance_band_meets_fairness_and_p95_over_20_seeds(scenario: str) -> None:
    """Production's `decide` with the tolerance band [F7] and a one-hour fair-share memory,
    20 seeds: zero compliance violations, Jain >= 0.95 across the equal-share tenants and a
    P95 wait within 1.5x of the oracle's (issue #4); its mean wait (non-compliance jobs) is
    at least 20 % below static priority's (the issue asks 30 %, unmet: docs/benchmarks.md)
    and below default production's."""
    runs = run_bench([scenario], seeds=20, policies=["production", "production_tolerant",
                                                     "static_priority", "oracle"]).runs
    summary = summarize(runs)
    by = {r["policy"]: r for r in summary.iter_rows(named=True)}
    checks = {c["criterion"]: c for c in acceptance(summary, ["production_tolerant"])}
    assert checks["production compliance violations"]["met"]
    assert checks["Jain index, equal-share tenants"]["met"], checks
    assert checks["P95 wait / oracle's"]["met"], checks
    assert by["production_tolerant"]["jain_runs"] >= 10  # measured, not vacuous
    assert checks["lower mean wait (non-compliance) vs static priority"]["value"] >= 0.20
    tolerant, default = by["production_tolerant"], by["production"]
    assert tolerant["wait_mean_noncompliance_s"] < default["wait_mean_noncompliance_s"]


def test_jain_pools_contended_windows_and_is_nan_without_one() -> None:
    trace = generate_trace(0, load=1.6)
    result = simulate(trace, baselines.fifo, "fifo", SCENARIOS["calm"], 0)
    jain, windows = contention_jain(result)
    assert windows >= 1 and 0.3 < jain < 1.0
    light = simulate(trace[:10], baselines.fifo, "fifo", SCENARIOS["calm"], 0)
    jain, windows = contention_jain(light)  # nobody is backlogged: no measurement
    assert windows == 0 and math.isnan(jain)
    assert math.isnan(run_metrics(light)["jain"])  # never a vacuous 1.0


def test_value_bound_is_above_every_policy_and_not_vacuous() -> None:
    trace = generate_trace(1, load=1.6)
    for sc_name in ("calm", "degraded"):
        bound = value_rate_bound(trace, SCENARIOS[sc_name], 1)
        available = policies_for(trace)
        for name in ("production", "production_tolerant", "fifo", "oracle"):
            result = simulate(trace, available[name], name, SCENARIOS[sc_name], 1,
                              config_for(name, BENCH_CONFIG))
            assert run_metrics(result)["value_per_h"] <= bound, (sc_name, name)
        assert bound < 1.5 * run_metrics(simulate(trace, baselines.fifo, "fifo",
                                                  SCENARIOS[sc_name], 1))["value_per_h"]


def _lone_job(work_s: float, deadline: float | None) -> TraceJob:
    return TraceJob("res-00000", 20, 10, 10, 1, 0.0, int(work_s) * 100, "alice", "research",
                    work_s, 2.0, deadline)


def test_value_bound_runs_a_job_on_one_device_at_a_time_and_on_time_inside_its_window(
) -> None:
    calm = SCENARIOS["calm"]
    job = _lone_job(900.0, None)
    durations = [job.work_s * REFERENCE_CLOPS / d.speed for d in FLEET]
    success = [success_probability(d.error_score, job.num_qubits, job.depth) for d in FLEET]
    # value_per_h of a run that is this job alone on device d, ending when it finishes;
    # split over the five devices at once it would end ~2.4x sooner than on the fastest.
    alone = [job.value * s * 3600.0 / t for s, t in zip(success, durations, strict=True)]
    bound = value_rate_bound([job], calm, 0)
    assert 0.5 * max(alone) < bound <= 1.01 * max(alone)
    # A deadline shorter than the fastest run: the job can never count as on time.
    assert value_rate_bound([_lone_job(900.0, 0.5 * min(durations))], calm, 0) == 0.0
    assert value_rate_bound([_lone_job(900.0, 2 * max(durations))], calm, 0) > 0.5 * max(alone)


def test_compliance_unaware_baseline_does_violate() -> None:
    runs = run_bench(["calm"], seeds=3, policies=["fifo"]).runs
    assert runs["compliance_violations"].sum() > 0  # the metric can fail


def test_every_job_is_accounted_for_and_preemption_costs_work() -> None:
    trace = generate_trace(3, load=1.6)
    result = simulate(trace, baselines.static_priority, "static", SCENARIOS["degraded"], 3)
    outcomes = result.outcomes.values()
    assert all(o.finish is not None or o.fallback or o.rejected for o in outcomes)
    preempted = [o for o in outcomes if o.preemptions]
    assert preempted and sum(o.lost_s for o in preempted) > 0
    for o in outcomes:
        if o.finish is not None:
            assert o.first_start is not None and o.first_start >= o.job.arrival_time
            assert o.finish - o.job.arrival_time >= o.run_s - 1e-6


def test_plain_fair_share_is_fair_and_static_priority_preempts_most() -> None:
    summary = summarize(run_bench(["calm"], seeds=3,
                                  policies=["production", "fair_share", "static_priority"]).runs)
    by = {r["policy"]: r for r in summary.iter_rows(named=True)}
    assert by["fair_share"]["jain"] >= 0.95
    assert by["static_priority"]["preemptions"] > by["production"]["preemptions"] > 0


def test_degraded_scenario_has_outages_and_drift() -> None:
    calm = draw_timeline(SCENARIOS["calm"], 1, 28_800)
    degraded = draw_timeline(SCENARIOS["degraded"], 1, 28_800)
    assert not any(outage for dev in calm.down for *_, outage in dev)
    assert any(outage for dev in degraded.down for *_, outage in dev)
    assert (calm.drift == 1.0).all() and not (degraded.drift == 1.0).all()


def test_trace_csv_round_trip_keeps_arrivals(tmp_path: Path) -> None:
    trace = generate_trace(5)
    path = tmp_path / "trace.csv"
    save_trace(trace, path)
    assert path.read_text().splitlines()[0].startswith(
        "job_id,num_qubits,two_qubits,depth,priority,arrival_time,num_shots,tenant")
    assert load_trace(path) == sorted(trace, key=lambda j: (j.arrival_time, j.job_id))


def test_icpp_csv_loads_with_defaults_and_given_arrivals(tmp_path: Path) -> None:
    icpp = load_trace(DEFAULT_JOBS)
    assert len(icpp) == 1000 and icpp[1].arrival_time == 0.02 and icpp[0].tenant == "default"
    path = tmp_path / "t.csv"
    path.write_text("job_id,num_qubits,two_qubits,depth,priority,arrival_time,num_shots\n"
                    "a,5,2,3,1,120.5,1000\nb,5,2,3,1,,1000\n")
    jobs = {j.job_id: j for j in load_trace(path)}
    assert jobs["a"].arrival_time == 120.5 and jobs["b"].arrival_time == 0.02
    result = simulate(list(jobs.values()), decide, "production", SCENARIOS["calm"], 0)
    assert result.outcomes["a"].first_start is not None
    assert result.outcomes["a"].first_start >= 120.5


def test_metrics_respond_to_waiting() -> None:
    trace = generate_trace(2, load=1.6)
    busy = run_metrics(simulate(trace, baselines.fifo, "fifo", SCENARIOS["calm"], 2))
    light = run_metrics(simulate(trace[:10], baselines.fifo, "fifo", SCENARIOS["calm"], 2))
    assert busy["wait_mean_s"] > light["wait_mean_s"]
    assert 0 < busy["utilization"] <= 1 and 0 < busy["mean_fidelity"] < 1


def test_acceptance_reports_measured_values() -> None:
    summary = summarize(run_bench(["calm"], seeds=2,
                                  policies=["production", "fifo", "static_priority",
                                            "oracle"]).runs)
    checks = acceptance(summary)
    assert {c["criterion"] for c in checks} >= {
        "production compliance violations", "higher business-value throughput vs FIFO"}
    assert next(c for c in checks if c["criterion"].startswith("production"))["met"]
