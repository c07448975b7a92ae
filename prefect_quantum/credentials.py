"""The Prefect Block holding a tenant's scheduler credentials (docs/scheduling.md, [T*])."""

from __future__ import annotations

from typing import Any, ClassVar

from prefect.blocks.core import Block
from prefect.blocks.core import schema_extra as prefect_block_schema_extra
from pydantic import ConfigDict, Field, SecretStr

from prefect_quantum.names import NAME_PATTERN
from prefect_quantum.store.tenants import Credentials

_DOCS = "https://github.com/prefect-quantum/prefect-quantum/blob/main/docs/operations.md"
_LOGO = "https://images.ctfassets.net/gm98wzqotmnx/08yCE6xpJMX9Kjl5VArDS/c2ede674c20f90b9b6edeab71feffac9/prefect-200x200.png?h=250"


def _closed_schema(schema: dict[str, Any], model: type[Block]) -> None:
    # blocks._closed_block_schema, which this module cannot import (blocks imports it,
    # and Prefect builds a block's schema when its class is created).
    prefect_block_schema_extra(schema, model)
    schema["additionalProperties"] = False


class QuantumTenantCredentials(Block):
    """A tenant's name and secret for a scheduler store with registered tenants; the
    secret comes from ``prefect-quantum tenant add`` or ``tenant rotate``.

    Example:
        ```python
        from prefect_quantum.blocks import QuantumScheduler
        from prefect_quantum.credentials import QuantumTenantCredentials

        credentials = QuantumTenantCredentials.load("BLOCK_NAME")
        scheduler = QuantumScheduler.load("default").model_copy(
            update={"credentials": credentials})
        ```
    """

    model_config = ConfigDict(json_schema_extra=_closed_schema)

    _block_type_name: ClassVar[str] = "Quantum Tenant Credentials"
    _block_type_slug: ClassVar[str] = "quantum-tenant-credentials"
    _logo_url: ClassVar[Any] = _LOGO
    _documentation_url: ClassVar[Any] = _DOCS
    _description: ClassVar[str] = (
        "A tenant's name and secret for the prefect-quantum scheduler store."
    )

    tenant: str = Field(
        ..., pattern=NAME_PATTERN,
        description="The tenant the jobs are charged to and that may read them.",
    )
    secret: SecretStr = Field(
        ..., description="The tenant's secret, as printed by prefect-quantum tenant add.",
    )

    def credentials(self) -> Credentials:
        """The name and secret in clear, for `store.tenants.connect`."""
        return Credentials(self.tenant, self.secret.get_secret_value())
