"""Benchmark: ``SimulatedQPU.execute`` vs plain Qiskit Aer on the same device noise.

A batch of small circuits (GHZ-3..6 and random 3-5 qubit circuits), transpiled once for one
device, is run at the same shot count two ways:

- ours: one ``SimulatedQPU.execute`` (chunked, one Aer ``run()`` per chunk with all circuits,
  noise restricted to the qubits in use);
- plain Qiskit: ``AerSimulator.from_backend(backend)`` where ``backend`` is a ``BackendV2``
  wrapping the same device Target (so the same full-device noise model), one ``run()`` per
  circuit, as a plain-Qiskit user writes it.

Both start cold (noise models not yet built). Also reported: the fixed overhead of one
``execute()`` of a 1-qubit circuit with 1 shot (median), and the mean total-variation distance
between the two methods' distributions (same noise, different random streams).

Usage: ``python benchmarks/execute.py [--device ibm_strasbourg] [--circuits 50] [--shots 4000]``
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit_aer import AerSimulator

from prefect_quantum.circuits import ghz
from prefect_quantum.fleet import CalibratedBackend, SimulatedQPU, load_calibration


def workload(count: int) -> list[QuantumCircuit]:
    """Half GHZ-3..6, half seeded random circuits of 3-5 qubits and depth 4."""
    circuits = []
    for i in range(count):
        if i % 2 == 0:
            circuits.append(ghz(3 + (i // 2) % 4))
        else:
            circuit = random_circuit(3 + i % 3, 4, max_operands=2, measure=True, seed=i)
            circuit.name = f"random{i}"
            circuits.append(circuit)
    return circuits


def tvd(a: dict[str, int], b: dict[str, int]) -> float:
    """Total-variation distance between two count distributions."""
    na, nb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


def main() -> None:
    """Run both methods and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="ibm_strasbourg")
    parser.add_argument("--circuits", type=int, default=50)
    parser.add_argument("--shots", type=int, default=4000)
    parser.add_argument("--chunk-shots", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    calibration = load_calibration(args.device)
    qpu = SimulatedQPU(calibration)
    start = time.perf_counter()
    circuits = qpu.transpile(workload(args.circuits), seed=args.seed)
    transpile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    ours = qpu.execute(circuits, args.shots, seed=args.seed, chunk_shots=args.chunk_shots)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    qpu.execute(circuits, args.shots, seed=args.seed, chunk_shots=args.chunk_shots)
    ours_warm_seconds = time.perf_counter() - start

    start = time.perf_counter()
    plain = AerSimulator.from_backend(CalibratedBackend(calibration, qpu.target))
    build_seconds = time.perf_counter() - start
    calls = []
    plain_counts = []
    for i, circuit in enumerate(circuits):
        call = time.perf_counter()
        result = plain.run(circuit, shots=args.shots, seed_simulator=args.seed + i).result()
        calls.append(time.perf_counter() - call)
        plain_counts.append(result.get_counts())
    plain_seconds = build_seconds + sum(calls)

    one = QuantumCircuit(1, 1, name="one")
    one.sx(0)
    one.measure(0, 0)
    qpu.execute([one], 1, seed=0)  # build the 1-qubit noise model once
    overheads = []
    for k in range(15):
        call = time.perf_counter()
        qpu.execute([one], 1, seed=k)
        overheads.append(time.perf_counter() - call)
    overhead_ms = statistics.median(overheads) * 1000

    speedup = plain_seconds / ours_seconds
    print(
        json.dumps(
            {
                "device": calibration.snapshot_id,
                "circuits": len(circuits),
                "shots": args.shots,
                "transpile_seconds": round(transpile_seconds, 3),
                "ours": {
                    "seconds": round(ours_seconds, 3),
                    "warm_seconds": round(ours_warm_seconds, 3),
                    "chunk_shots": args.chunk_shots,
                    "chunks": ours.chunks,
                    "aer_runs": ours.chunks,
                    "simulated_qpu_seconds": round(ours.qpu_seconds, 3),
                },
                "plain_qiskit": {
                    "seconds": round(plain_seconds, 3),
                    "from_backend_seconds": round(build_seconds, 3),
                    "aer_runs": len(calls),
                    "per_run_median_seconds": round(statistics.median(calls), 3),
                },
                "speedup": round(speedup, 1),
                "fixed_overhead_ms": round(overhead_ms, 2),
                "mean_tvd_ours_vs_plain": round(
                    statistics.fmean(
                        tvd(a, b) for a, b in zip(ours.counts, plain_counts, strict=True)
                    ),
                    4,
                ),
                "targets_met": {"speedup>=20": speedup >= 20, "overhead<=50ms": overhead_ms <= 50},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
