"""Records of chunked execution: progress, checkpoints, results, and the chunk seed rule."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.circuit import QuantumCircuit

from prefect_quantum.errors import DeviceOfflineError, InvalidInputError


def chunk_seed(seed: int, start_shot: int) -> int:
    """The simulator seed of the chunk starting at ``start_shot`` of a run seeded ``seed``.

    Depends on nothing else, so a run resumed from a checkpoint draws the same samples as
    the uninterrupted run (given the same chunk size).
    """
    digest = hashlib.sha256(f"prefect-quantum:{seed}:{start_shot}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def merge_counts(total: dict[str, int], more: Mapping[str, int]) -> None:
    """Add ``more`` into ``total`` in place."""
    for bits, n in more.items():
        total[bits] = total.get(bits, 0) + n


@dataclass(frozen=True)
class Progress:
    """Where a running execution stands; passed to ``should_stop`` between chunks.

    ``chunk`` counts the chunks completed by this call; ``shots_done`` and ``qpu_seconds``
    include a resumed checkpoint's.
    """

    shots_done: int
    shots_total: int
    chunk: int
    qpu_seconds: float
    counts: Sequence[Mapping[str, int]] = ()  # the live counts so far; copy to keep

    def checkpoint(self) -> Checkpoint:
        """A copy of the state reached, to resume from."""
        return Checkpoint(self.shots_done, tuple(dict(c) for c in self.counts), self.qpu_seconds)


@dataclass(frozen=True)
class Checkpoint:
    """Counts gathered so far (per circuit) and the simulated QPU time they cost."""

    shots_done: int
    counts: tuple[dict[str, int], ...]
    qpu_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {
            "shots_done": self.shots_done,
            "counts": [dict(c) for c in self.counts],
            "qpu_seconds": self.qpu_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict`; InvalidInputError on a malformed document."""
        try:
            shots_done = int(data["shots_done"])
            counts = tuple(
                {str(bits): int(n) for bits, n in dict(c).items()} for c in data["counts"]
            )
            qpu_seconds = float(data["qpu_seconds"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError("checkpoint", f"malformed checkpoint: {exc!r}") from exc
        checkpoint = cls(shots_done, counts, qpu_seconds)
        checkpoint.validate(len(counts))
        return checkpoint

    def validate(self, num_circuits: int, shots: int | None = None) -> None:
        """Raise InvalidInputError unless this checkpoint fits a run of that shape."""
        if self.shots_done < 0 or (shots is not None and self.shots_done > shots):
            raise InvalidInputError("resume", f"shots_done={self.shots_done} out of range")
        if len(self.counts) != num_circuits:
            raise InvalidInputError(
                "resume", f"checkpoint has {len(self.counts)} circuits, run has {num_circuits}"
            )
        for counts in self.counts:
            if sum(counts.values()) != self.shots_done or min(counts.values(), default=0) < 0:
                raise InvalidInputError("resume", "counts do not add up to shots_done")


@dataclass(frozen=True)
class Execution:
    """The outcome of ``SimulatedQPU.execute``.

    ``counts`` are keyed like Qiskit's ``Result.get_counts`` (bit strings, classical
    registers separated by spaces). ``shots`` is the number of shots per circuit done so far
    (including a resumed checkpoint's); ``qpu_seconds`` is cumulative likewise; ``chunks``
    counts the chunks run by this call only.
    """

    counts: list[dict[str, int]]
    shots: int
    shots_requested: int
    qpu_seconds: float
    chunks: int
    stopped: bool
    device: str
    snapshot_id: str

    def checkpoint(self) -> Checkpoint:
        """The state to resume from."""
        return Checkpoint(self.shots, tuple(dict(c) for c in self.counts), self.qpu_seconds)


class DeviceOfflineCheckpointError(DeviceOfflineError):
    """The device went offline; ``checkpoint`` holds every shot done so far."""

    def __init__(self, device: str, checkpoint: Checkpoint) -> None:
        self.device = device
        self.checkpoint = checkpoint
        super().__init__(
            f"{device} is offline after {checkpoint.shots_done} shots; resume from .checkpoint"
        )


def measured_qubits(transpiled: QuantumCircuit) -> list[int]:
    """Physical qubit measured into each clbit (index = clbit index); -1 if never measured.

    When a clbit is written more than once, the last measurement wins.
    """
    result = [-1] * transpiled.num_clbits
    for instruction in transpiled.data:
        if instruction.operation.name == "measure":
            qubit = transpiled.find_bit(instruction.qubits[0]).index
            result[transpiled.find_bit(instruction.clbits[0]).index] = qubit
    return result


def validate_counts_request(
    circuits: Sequence[QuantumCircuit], shots: int, chunk_shots: int, seed: int
) -> None:
    """Reject malformed execute() arguments, naming the field."""
    if not isinstance(shots, int) or isinstance(shots, bool) or shots <= 0:
        raise InvalidInputError("shots", f"must be a positive integer, got {shots!r}")
    if not isinstance(chunk_shots, int) or isinstance(chunk_shots, bool) or chunk_shots <= 0:
        raise InvalidInputError("chunk_shots", f"must be a positive integer, got {chunk_shots!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidInputError("seed", f"must be an integer, got {seed!r}")
    if not circuits:
        raise InvalidInputError("circuits", "no circuits given")
    for i, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidInputError("circuits", f"item {i} is not a QuantumCircuit")
        if circuit.num_clbits == 0:
            raise InvalidInputError("circuits", f"circuit {i} ({circuit.name}) measures nothing")
