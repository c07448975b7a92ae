"""Qubit-wise commuting groups of the Pauli terms of a pub, and how to read each observable.

All observables of a pub are measured through the groups of the union of their terms, so
two observables sharing a basis share its circuits; each observable then reads its own terms
out of the groups' counts with :class:`~prefect_quantum.observables.GroupReadout`, which
gives readout-mitigated values and shot-noise errors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from qiskit.quantum_info import PauliList

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.observables import GroupReadout

_PAULI = frozenset("IXYZ")


@dataclass(frozen=True)
class Group:
    """One shared measurement basis: ``basis[j]`` is measured on virtual qubit ``support[j]``."""

    support: tuple[int, ...]
    basis: str


@dataclass(frozen=True)
class Grouping:
    """The groups of a set of Pauli labels and the group of each non-identity label."""

    groups: tuple[Group, ...]
    group_of: dict[str, int]

    def readouts(
        self, observable: Mapping[str, float]
    ) -> tuple[float, dict[int, GroupReadout]]:
        """(identity offset, readout per group used) of one observable."""
        offset = 0.0
        terms: dict[int, list[tuple[str, float]]] = {}
        for label, coeff in observable.items():
            if set(label) == {"I"}:
                offset += float(np.real(coeff))
            else:
                terms.setdefault(self.group_of[label], []).append((label, float(np.real(coeff))))
        readouts = {}
        for g, items in terms.items():
            support = self.groups[g].support
            n = len(items[0][0])
            masks = np.array(
                [[label[n - 1 - q] != "I" for label, _ in items] for q in support], dtype=np.int64
            )
            readouts[g] = GroupReadout(
                len(support), masks=masks, coeffs=np.array([c for _, c in items], dtype=float)
            )
        return offset, readouts


class GroupingCache:
    """Groupings by label set (a loop asks for the same Hamiltonian at every call)."""

    def __init__(self, maxsize: int = 256) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[frozenset[str], Grouping] = OrderedDict()
        self._maxsize = maxsize

    def get(self, labels: frozenset[str]) -> Grouping:
        """The grouping of ``labels`` (built once)."""
        with self._lock:
            hit = self._entries.get(labels)
            if hit is not None:
                self._entries.move_to_end(labels)
                return hit
        grouping = group_labels(labels)
        with self._lock:
            self._entries[labels] = grouping
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return grouping


def group_labels(labels: frozenset[str]) -> Grouping:
    """Group the non-identity Pauli ``labels`` (Qiskit order: qubit 0 rightmost)."""
    for label in labels:
        if not set(label) <= _PAULI:
            raise InvalidInputError(
                "observables", f"only Pauli terms (I, X, Y, Z) are supported, got {label!r}"
            )
    terms = sorted(label for label in labels if set(label) != {"I"})
    if not terms:
        return Grouping((), {})
    groups: list[Group] = []
    group_of: dict[str, int] = {}
    for part in PauliList(terms).group_commuting(qubit_wise=True):
        z = np.logical_or.reduce(part.z, axis=0)
        x = np.logical_or.reduce(part.x, axis=0)
        support = tuple(int(q) for q in np.flatnonzero(z | x))
        basis = "".join("Y" if x[q] and z[q] else "X" if x[q] else "Z" for q in support)
        for label in part.to_labels():
            group_of[label] = len(groups)
        groups.append(Group(support, basis))
    return Grouping(tuple(groups), group_of)
