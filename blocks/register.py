"""Register prefect-quantum's block types and save the default documents.

    python blocks/register.py            # against PREFECT_API_URL (or the local API)

Equivalent for the types alone: ``prefect block register -m prefect_quantum``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blocks.defaults import DOCUMENTS
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler


def register() -> list[str]:
    """Register the types and save every document; returns the saved names."""
    QuantumFleet.register_type_and_schema()
    QuantumScheduler.register_type_and_schema()
    saved = []
    for name, (fleet, scheduler) in DOCUMENTS.items():
        fleet.save(name, overwrite=True)
        scheduler.save(name, overwrite=True)
        saved += [f"quantum-fleet/{name}", f"quantum-scheduler/{name}"]
    return saved


if __name__ == "__main__":
    for name in register():
        print(f"saved {name}")
