"""Calibration snapshots: catalog, parsing, quirks, device metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prefect_quantum.errors import InvalidInputError, UnknownDeviceError
from prefect_quantum.fleet import (
    DeviceSpec,
    SimulatedQPU,
    device_spec,
    list_snapshots,
    load_calibration,
    parse_calibration,
)

# SEEDS.md section 6: device, mean readout, mean sx, mean 2q (all couplers), score.
ICPP_TABLE = [
    ("ibm_strasbourg", 0.043238, 1.0909e-3, 0.093015, 0.040549),
    ("ibm_brussels", 0.035222, 5.0317e-4, 0.073537, 0.032469),
    ("ibm_kyiv", 0.031046, 1.2956e-3, 0.061267, 0.028165),
    ("ibm_quebec", 0.037859, 9.1095e-4, 0.073214, 0.033846),
    ("ibm_kawasaki", 0.028689, 4.0552e-4, 0.079621, 0.030391),
]


@pytest.mark.parametrize(("device", "readout", "sx", "two_qubit", "score"), ICPP_TABLE)
def test_march_metrics_match_the_icpp_table(
    device: str, readout: float, sx: float, two_qubit: float, score: float
) -> None:
    cal = load_calibration(device)
    assert round(cal.error_score, 6) == score
    assert round(cal.mean_readout_error, 6) == readout
    assert cal.mean_sx_error == pytest.approx(sx, abs=5e-8)
    assert round(cal.mean_two_qubit_error, 6) == two_qubit
    assert cal.clops == device_spec(device).clops
    assert cal.quantum_volume == 128


def test_snapshots_are_listed_by_time_and_latest_is_march() -> None:
    ids = list_snapshots("ibm_fez")
    assert ids == [
        "ibm_fez@2025-01-13T16:54:24Z",
        "ibm_fez@2025-01-27T02:38:59Z",
        "ibm_fez@2025-02-13T22:03:26Z",
        "ibm_fez@2025-03-30T03:08:13Z",
    ]
    latest = load_calibration("ibm_fez")
    assert latest.snapshot_id == ids[-1]
    assert latest.timestamp == datetime(2025, 3, 30, 3, 8, 13, tzinfo=UTC)
    assert load_calibration("fez", ids[0]).snapshot_id == ids[0]
    assert load_calibration("ibm_fez", "01_2025").snapshot_id == ids[1]


def test_unknown_device_and_snapshot_name_the_field() -> None:
    with pytest.raises(UnknownDeviceError) as unknown:
        load_calibration("ibm_nowhere")
    assert unknown.value.field == "device"
    assert "ibm_fez" in str(unknown.value)
    with pytest.raises(InvalidInputError) as bad:
        load_calibration("ibm_fez", "ibm_fez@1999-01-01T00:00:00Z")
    assert bad.value.field == "snapshot"


def test_eagle_and_heron_shapes() -> None:
    eagle, heron = load_calibration("ibm_strasbourg"), load_calibration("ibm_fez")
    assert (eagle.num_qubits, eagle.two_qubit_gate, len(eagle.couplers)) == (127, "ecr", 144)
    assert (heron.num_qubits, heron.two_qubit_gate, len(heron.couplers)) == (156, "cz", 352)
    assert all((b, a) in heron.couplers for a, b in heron.couplers)  # CZ listed both ways
    assert eagle.couplers[(0, 14)] == pytest.approx((0.006722327061080169, 660.0))
    with pytest.raises(TypeError):
        eagle.couplers[(0, 14)] = (0.0, 0.0)  # type: ignore[index]


def test_readout_is_asymmetric() -> None:
    qubit = load_calibration("ibm_strasbourg").qubits[1]
    assert qubit.prob_meas1_prep0 == pytest.approx(0.2451171875)
    assert qubit.prob_meas0_prep1 == pytest.approx(0.09033203125)
    assert qubit.readout_error == pytest.approx(0.167724609375)


def test_coupling_map_excludes_broken_couplers() -> None:
    cal = load_calibration("ibm_strasbourg")
    broken = {pair for pair, (error, _) in cal.couplers.items() if error >= 1.0}
    assert len(broken) == 12
    edges = set(SimulatedQPU(cal).target.build_coupling_map().get_edges())
    assert edges == set(cal.working_couplers)
    assert not edges & broken


SPEC = DeviceSpec("ibm_test", "Test", 4, "ecr", 1000, 128, 60.0)
HEADER = (
    '\ufeff"Qubit","T1 (us)","T2 (us)","Readout assignment error ","Prob meas0 prep1 ",'
    '"Prob meas1 prep0 ","Readout length (ns)","ID error ","Z-axis rotation (rz) error ",'
    '"√x (sx) error ","Pauli-X error ","ECR error ","Gate time (ns)","Operational"\n'
)


def _row(
    q: int, t1: str = "100", sx: str = "0.001", ecr: str = "", gt: str = "", op: str = "true"
) -> str:
    return (
        f'"{q}","{t1}","80","0.02","0.03","0.01","1500","0.001","0","{sx}","0.001",'
        f'"{ecr}","{gt}","{op}"\n'
    )


def test_quirky_csv_is_parsed_robustly() -> None:
    text = HEADER + "".join(
        [
            _row(0, ecr="0_1:0.01;0_9:0.5;junk;0_2:", gt="0_1:600;0_9:600;0_2:600"),
            _row(0, t1="999"),  # duplicate row: the first one wins
            _row(1, sx="", ecr="1_2:0.02", gt=""),  # missing sx; coupler without duration
            _row(2, t1="n/a", op="TRUE", ecr="2_3:1", gt="2_3:600"),
            # qubit 3 has no row at all
        ]
    )
    cal = parse_calibration(text, SPEC, "ibm_test@x", datetime(2025, 1, 1, tzinfo=UTC))
    assert cal.num_qubits == 4
    q0, q1, q2, q3 = cal.qubits
    assert q0.t1_us == 100 and q0.operational
    assert not q1.operational and q1.sx_error == pytest.approx(0.001)  # median fill
    assert not q2.operational and q2.t1_us == 100
    assert not q3.operational
    assert q0.prob_meas0_prep1 == 0.03 and q0.prob_meas1_prep0 == 0.01
    assert cal.couplers[(0, 1)] == (0.01, 600.0)
    assert cal.couplers[(0, 2)][0] == 1.0  # missing error: broken
    assert (0, 9) not in cal.couplers  # qubit out of range
    assert cal.couplers[(1, 2)] == (0.02, 600.0)  # median duration
    assert cal.couplers[(2, 3)][0] == 1.0
    # Only couplers between operational qubits that are not broken are usable.
    assert cal.working_couplers == []
    target = SimulatedQPU(cal).target
    assert target.instruction_supported("sx", (0,))
    assert not target.instruction_supported("sx", (1,))
    assert not target.instruction_supported("measure", (3,))


def test_operational_flag_false_excludes_the_qubit() -> None:
    text = HEADER + _row(0, ecr="0_1:0.01", gt="0_1:600") + _row(1, op="false") + _row(2) + _row(3)
    cal = parse_calibration(text, SPEC, "ibm_test@y", datetime(2025, 1, 1, tzinfo=UTC))
    assert [q.operational for q in cal.qubits] == [True, False, True, True]
    assert (0, 1) in cal.couplers and cal.working_couplers == []
