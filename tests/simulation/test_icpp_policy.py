"""Our ICPP allocation policy against the paper's modes, and the LP bound."""

from __future__ import annotations

import pytest

from prefect_quantum.simulation.icpp2025 import PAPER_TABLE2, IcppResult, arrival_times, run_icpp
from prefect_quantum.simulation.icpp_bound import lp_bound
from prefect_quantum.simulation.icpp_configs import ConfigTable, config_table
from prefect_quantum.simulation.icpp_model import ICPP_DEVICES, IcppJob, load_jobs
from prefect_quantum.simulation.icpp_policy import run_ours


@pytest.fixture(scope="module")
def jobs() -> list[IcppJob]:
    return load_jobs()


@pytest.fixture(scope="module")
def table(jobs: list[IcppJob]) -> ConfigTable:
    return config_table(jobs)


@pytest.fixture(scope="module")
def ours(jobs: list[IcppJob], table: ConfigTable) -> dict[str, IcppResult]:
    return {name: run_ours(jobs, name, table) for name in ("ours", "ours-fidelity")}


def test_ours_beats_speed_fair_and_ppo_on_all_three(
    jobs: list[IcppJob], ours: dict[str, IcppResult]
) -> None:
    mine = ours["ours"]
    rivals = [run_icpp(jobs, "speed"), run_icpp(jobs, "fair")]
    ppo_time, ppo_fid, _, ppo_comm = PAPER_TABLE2["ppo"]
    for time_s, fid, comm in [(r.makespan_s, r.fidelity_mean, r.comm_s) for r in rivals] + [
        (ppo_time, ppo_fid, ppo_comm)
    ]:
        assert mine.makespan_s < time_s
        assert mine.fidelity_mean > fid
        assert mine.comm_s < comm


def test_operating_point_at_speed_makespan(ours: dict[str, IcppResult]) -> None:
    assert ours["ours"].makespan_s <= 108_775
    assert ours["ours"].fidelity_mean >= 0.673


def test_operating_point_at_fidelity_mode_quality(ours: dict[str, IcppResult]) -> None:
    assert ours["ours-fidelity"].fidelity_mean >= 0.6878
    assert ours["ours-fidelity"].makespan_s < 209_873


def test_schedules_respect_the_model(jobs: list[IcppJob], ours: dict[str, IcppResult]) -> None:
    """Every job once, after its arrival, on >= 2 devices, never over 127 qubits."""
    capacity = {d.name: d.num_qubits for d in ICPP_DEVICES}
    arrivals = dict(zip((j.job_id for j in jobs), arrival_times(jobs), strict=True))
    for result in ours.values():
        assert sorted(r.job_id for r in result.records) == sorted(arrivals)
        changes: list[tuple[float, int, str, int]] = []
        for r in result.records:
            assert len(r.devices) >= 2 and r.start >= arrivals[r.job_id]
            for name, q in zip(r.devices, r.split, strict=True):
                changes += [(r.start, 1, name, q), (r.finish, 0, name, -q)]
        held = dict.fromkeys(capacity, 0)
        for _, _, name, q in sorted(changes):  # releases before takes at one instant
            held[name] += q
            assert held[name] <= capacity[name]


def test_lp_bound_is_above_every_policy(
    jobs: list[IcppJob], table: ConfigTable, ours: dict[str, IcppResult]
) -> None:
    arrivals = arrival_times(jobs)
    results = [*ours.values(), run_icpp(jobs, "speed"), run_icpp(jobs, "fidelity")]
    for result in results:
        bound = lp_bound(jobs, result.makespan_s, table=table, arrivals=arrivals)
        assert bound.fidelity_mean is not None
        assert result.fidelity_mean <= bound.fidelity_mean + 1e-9
        assert result.fidelity_mean >= 0.98 * bound.fidelity_mean or result.policy in {
            "speed", "fidelity"}


def test_lp_bound_infeasible_below_the_longest_job(jobs: list[IcppJob],
                                                    table: ConfigTable) -> None:
    assert lp_bound(jobs, 10.0, table=table).fidelity_mean is None
