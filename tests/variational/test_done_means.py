"""The issue's "done means" for the algorithms: VQE exact on the ideal simulator, ZNE helps
on a noisy device, QAOA finds the optimal cut with probability >= 0.5."""

from __future__ import annotations

import pytest

from prefect_quantum.fleet import Fleet
from prefect_quantum.variational import CobylaSettings, LoopConfig, run_qaoa, run_vqe


def test_vqe_on_the_ideal_simulator_reaches_the_exact_ground_energy(fez_fleet: Fleet) -> None:
    result = run_vqe("h2", fleet=fez_fleet, device="ideal", precision=0.0,
                     config=LoopConfig(max_iterations=150))
    assert abs(result.error) < 1e-3
    assert result.exact_energy == pytest.approx(-1.857275, abs=1e-6)
    assert set(result.loop.rows["backend_kind"]) == {"simulator"}


def test_vqe_with_shots_converges_within_its_shot_noise(fez_fleet: Fleet) -> None:
    result = run_vqe("h2", fleet=fez_fleet, device="ideal", precision=0.01,
                     config=LoopConfig(max_iterations=40), final_precision=0.003)
    assert abs(result.error) < 0.02
    assert result.stderr < 0.003


def test_spsa_converges_too(fez_fleet: Fleet) -> None:
    result = run_vqe("h2", fleet=fez_fleet, device="ideal", precision=0.0,
                     config=LoopConfig(optimizer="spsa", max_iterations=80))
    assert abs(result.error) < 0.02
    assert set(result.loop.rows["points"]) == {3}  # x, x + cΔ, x - cΔ in one batch


def test_vqe_with_zne_on_a_noisy_device_ends_closer_than_without(fez_fleet: Fleet) -> None:
    # Simulator first, then refine on the device ([SEEDS §7]): both device loops start from
    # the ideal optimum, so what differs is the device's bias and ZNE's removal of it.
    ideal = run_vqe("tfim", fleet=fez_fleet, device="ideal", precision=0.0,
                    config=LoopConfig(max_iterations=400))
    errors = {}
    for mitigation in ("none", "zne"):
        result = run_vqe(
            "tfim", fleet=fez_fleet, device="ibm_fez", mitigation=mitigation, x0=ideal.loop.x,
            config=LoopConfig(max_iterations=8, cobyla=CobylaSettings(rhobeg=0.05)),
            final_precision=0.005,
        )
        assert set(result.loop.rows["device"]) == {"ibm_fez"}
        errors[mitigation] = abs(result.error)
    assert errors["zne"] < errors["none"] / 2, errors


def test_qaoa_finds_the_optimal_cut_with_probability_at_least_half(fez_fleet: Fleet) -> None:
    result = run_qaoa(fleet=fez_fleet, device="ideal", precision=0.0,
                      config=LoopConfig(max_iterations=100))
    assert result.graph.number_of_nodes() == 6
    assert result.max_cut == 9 and len(result.optimal_bitstrings) == 2
    assert result.shots == 4096
    assert result.p_optimal >= 0.5
    assert result.best_bitstring in result.optimal_bitstrings
