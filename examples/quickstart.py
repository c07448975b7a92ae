"""Quickstart: a hybrid job from Python, as in a notebook.

    python examples/quickstart.py

Runs a Qiskit circuit, a built-in and an OpenQASM file through the `hybrid_job` flow with
ZNE + readout mitigation, then prints the tidy result table.
"""

from pathlib import Path

from qiskit import QuantumCircuit

from prefect_quantum import hybrid_job

HERE = Path(__file__).parent


def main() -> None:
    qc = QuantumCircuit(3, name="my-ghz")
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    result = hybrid_job(
        [qc, "ghz:5", str(HERE / "circuits" / "bell.qasm")],
        shots=2000,
        observables=["ZZI", None, None],
        mitigation="zne+rem",
    )
    print(result.rows.select("circuit", "device", "raw_value", "mitigated_value", "stderr"))


if __name__ == "__main__":
    main()
