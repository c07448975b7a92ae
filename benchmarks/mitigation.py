"""Does mitigation help? Mean absolute error vs the ideal value, per technique.

Runs the built-in GHZ and mirror-HEA circuits on one noisy fleet device through the plain
pipeline (the same code the flow's tasks call), for every mitigation technique, over
several seeds; and readout-dominated circuits (X on some qubits, no two-qubit gates) for
REM. Prints JSON with the mean absolute error of each and the reduction factors.

    python benchmarks/mitigation.py [--device ibm_brussels] [--seeds 3] [--shots 8000]
"""

from __future__ import annotations

import argparse
import json
import statistics

from qiskit import QuantumCircuit

from prefect_quantum import pipeline
from prefect_quantum.fleet import Fleet, FleetConfig
from prefect_quantum.job import JobRequest

TECHNIQUES = ("none", "zne", "rem", "zne+rem")


def readout_circuits() -> list[QuantumCircuit]:
    """Circuits whose only noise is readout and single-qubit gates: X on every other qubit."""
    out = []
    for width in (3, 5, 7):
        qc = QuantumCircuit(width, name=f"xs:{width}")
        for q in range(0, width, 2):
            qc.x(q)
        qc.measure_all()
        out.append(qc)
    return out


def mae(specs: list, device: str, fleet: Fleet, technique: str, seeds: int, shots: int) -> float:
    errors = []
    for seed in range(seeds):
        request = JobRequest.build(
            specs, shots, mitigation=technique, options={"seed": seed, "devices": (device,)}
        )
        job = pipeline.prepare(request)
        qpu = fleet.get(device)
        compiled = pipeline.compile_for(job, [qpu])[device]
        execution = pipeline.run_batch(qpu, pipeline.build_batch(job, compiled), job)
        values = pipeline.mitigate(job, qpu, compiled, execution.counts)
        errors += [abs(1.0 - v.mitigated_value) for v in values]  # every ideal value is 1
    return statistics.fmean(errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="ibm_brussels")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--shots", type=int, default=8000)
    args = parser.parse_args()
    fleet = Fleet.from_config(FleetConfig(devices=(args.device,)))
    suites = {
        "ghz_hea": ["ghz:5", "ghz:8", "hea:4:4", "hea:6:4", "hea:8:4"],
        "readout_dominated": readout_circuits(),
    }
    report: dict[str, object] = {"device": args.device, "seeds": args.seeds, "shots": args.shots}
    for name, specs in suites.items():
        errs = {t: mae(specs, args.device, fleet, t, args.seeds, args.shots) for t in TECHNIQUES}
        report[name] = {
            "mae": {t: round(e, 5) for t, e in errs.items()},
            "reduction": {t: round(errs["none"] / e, 2) for t, e in errs.items() if t != "none"},
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
