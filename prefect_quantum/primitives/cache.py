"""Compile once per (circuit, device): transpiled circuits kept while the user's circuit lives.

A circuit is recognised by identity (plus its size and parameter count, so an in-place
append is noticed), which costs nothing per call; the fleet's content-hash cache behind
``SimulatedQPU.transpile`` still shares work between equal circuits built separately.
Parameters stay unbound in the cache: each ``run()`` only binds values.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from qiskit.circuit import QuantumCircuit

T = TypeVar("T")


class CompileCache:
    """Entries per live circuit, keyed by what was built from it (device, purpose)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[weakref.ref[QuantumCircuit], dict[Hashable, Any]]] = {}
        self.builds = 0
        self.hits = 0

    def get(self, circuit: QuantumCircuit, key: Hashable, build: Callable[[], T]) -> T:
        """The cached value for ``(circuit, key)``, built by ``build()`` on first use."""
        full_key = (len(circuit.data), circuit.num_parameters, key)
        ident = id(circuit)
        with self._lock:
            slot = self._entries.get(ident)
            if slot is not None and slot[0]() is circuit and full_key in slot[1]:
                self.hits += 1
                return cast(T, slot[1][full_key])
        value = build()
        with self._lock:
            slot = self._entries.get(ident)
            if slot is None or slot[0]() is not circuit:
                ref = weakref.ref(circuit, functools.partial(self._drop, ident))
                slot = (ref, {})
                self._entries[ident] = slot
            slot[1][full_key] = value
            self.builds += 1
        return value

    def _drop(self, ident: int, _: object = None) -> None:
        with self._lock:
            slot = self._entries.get(ident)
            if slot is not None and slot[0]() is None:
                del self._entries[ident]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(values) for _, values in self._entries.values())
