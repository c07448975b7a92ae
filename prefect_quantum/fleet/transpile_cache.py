"""In-process LRU cache of transpiled circuits, keyed by (circuit, target, seed, level).

A circuit's key is the SHA-256 of its QPY serialisation: two separately built but identical
circuits share an entry, while circuits with different ``Parameter`` objects do not (the
transpiled copy must carry the caller's parameters for later binding).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

from qiskit import qpy
from qiskit.circuit import QuantumCircuit

DEFAULT_MAXSIZE = 4096

CacheKey = tuple[str, str, int, int]


class CacheInfo(NamedTuple):
    """Counters of the transpile cache."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def circuit_digest(circuit: QuantumCircuit) -> str:
    """A content hash of ``circuit`` (gates, parameters, registers, name, metadata)."""
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


class TranspileCache:
    """A thread-safe LRU of transpiled circuits; results are handed out as copies."""

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[CacheKey, QuantumCircuit] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get_or_transpile(
        self,
        circuits: Sequence[QuantumCircuit],
        fingerprint: str,
        seed: int,
        level: int,
        transpile: Callable[[list[QuantumCircuit]], list[QuantumCircuit]],
    ) -> list[QuantumCircuit]:
        """Cached results for ``circuits``; the misses go to ``transpile`` in one batch."""
        keys = [(circuit_digest(c), fingerprint, seed, level) for c in circuits]
        found: dict[int, QuantumCircuit] = {}
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._entries.get(key)
                if hit is not None:
                    self._entries.move_to_end(key)
                    found[i] = hit
            self._hits += len(found)
            self._misses += len(keys) - len(found)
        missing = [i for i in range(len(circuits)) if i not in found]
        if missing:
            fresh = transpile([circuits[i] for i in missing])
            with self._lock:
                for i, compiled in zip(missing, fresh, strict=True):
                    found[i] = compiled
                    self._entries[keys[i]] = compiled
                    self._entries.move_to_end(keys[i])
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return [found[i].copy() for i in range(len(circuits))]

    def info(self) -> CacheInfo:
        """Hits, misses and sizes so far."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.maxsize, len(self._entries))

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0


TRANSPILE_CACHE = TranspileCache()


def transpile_cache_info() -> CacheInfo:
    """Counters of the process-wide transpile cache."""
    return TRANSPILE_CACHE.info()


def transpile_cache_clear() -> None:
    """Empty the process-wide transpile cache."""
    TRANSPILE_CACHE.clear()
