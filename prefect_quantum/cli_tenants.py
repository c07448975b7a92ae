"""`prefect-quantum tenant ...` and the `--tenant/--secret` options of the store commands.

Mounted by the main CLI as `app.add_typer(tenant_app, name="tenant")`; `queue`, `usage`
and `audit show` open the store through `scoped` (docs/scheduling.md, [T2..T4]). Bad
credentials, and anything a tenant may not see, exit with code 2 and a message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from prefect_quantum.errors import AccessDeniedError, InvalidInputError

if TYPE_CHECKING:
    from prefect_quantum.store import SchedulerStore
    from prefect_quantum.store.tenants import Principal, Role, TenantView

T = TypeVar("T")

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", envvar="PREFECT_QUANTUM_TENANT",
                  help="Act as this tenant (needs --secret) once the store has tenants."),
]
SecretOption = Annotated[
    str | None,
    typer.Option("--secret", envvar="PREFECT_QUANTUM_SECRET", show_default=False,
                 help="The tenant's secret; prefer the environment variable."),
]
_Url = Annotated[
    str | None, typer.Option("--url", help="Store URL; the default SQLite file when omitted.")
]
_Block = Annotated[
    str | None, typer.Option("--block", help="Name of a saved QuantumScheduler block.")
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]

tenant_app = typer.Typer(
    help="Tenants of the scheduler store and their secrets (operators only once any "
    "tenant exists).",
    no_args_is_help=True,
)


def _exit2(fn: Callable[[], T]) -> T:
    """Run `fn`; bad input and refused credentials exit 2 with the message."""
    try:
        return fn()
    except (InvalidInputError, AccessDeniedError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def scoped(store: SchedulerStore, tenant: str | None, secret: str | None) -> ScopedStore:
    """The store as `tenant` may see it: all of an open store without credentials, a
    tenant's own rows, or everything for an operator; exits 2 on bad credentials."""
    from prefect_quantum.store.tenants import Credentials, connect

    def open_view() -> TenantView:
        if (tenant is None) != (secret is None):
            raise InvalidInputError(
                "--tenant/--secret", "give both (or PREFECT_QUANTUM_TENANT and "
                "PREFECT_QUANTUM_SECRET), or neither")
        credentials = None if tenant is None else Credentials(tenant, secret or "")
        return connect(store, credentials)

    return ScopedStore(_exit2(open_view))


class ScopedStore:
    """The reads of the store commands through a `TenantView`; refusals exit 2."""

    def __init__(self, view: TenantView) -> None:
        self.view = view
        self.principal = view.principal

    def queue(self, *, include_finished: bool = False) -> list[dict[str, Any]]:
        """`TenantView.queue`."""
        return _exit2(lambda: self.view.queue(include_finished=include_finished))

    def usage(self) -> list[dict[str, Any]]:
        """`TenantView.usage`."""
        return _exit2(self.view.usage)

    def audit(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """`TenantView.audit`."""
        return _exit2(lambda: self.view.audit(job_id))


def _principal(url: str | None, block: str | None, tenant: str | None,
               secret: str | None) -> tuple[SchedulerStore, Principal]:
    from prefect_quantum.cli import _scheduler_store

    store = _scheduler_store(url, block)
    return store, scoped(store, tenant, secret).principal


def _print_secret(name: str, role: str, secret: str, as_json: bool, verb: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"tenant": name, "role": role, "secret": secret}) + "\n")
        return
    typer.echo(f"tenant {name!r} ({role}) {verb}. Its secret, shown only this once:",
               err=True)
    typer.echo(secret)


@tenant_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The new tenant's name.")],
    operator: Annotated[bool, typer.Option("--operator",
                                           help="May see every tenant and manage them.")] = False,
    url: _Url = None, block: _Block = None, tenant: TenantOption = None,
    secret: SecretOption = None, as_json: _Json = False,
) -> None:
    """Register a tenant and print its generated secret once (store it in a
    QuantumTenantCredentials block). The first tenant of a store must be an operator."""
    from prefect_quantum.store.tenants import add_tenant

    store, by = _principal(url, block, tenant, secret)
    role: Role = "operator" if operator else "tenant"
    new = _exit2(lambda: add_tenant(store, name, by=by, role=role))
    _print_secret(name, role, new, as_json, "added")


@tenant_app.command("rotate")
def rotate(
    name: Annotated[str, typer.Argument(help="The tenant whose secret is replaced.")],
    url: _Url = None, block: _Block = None, tenant: TenantOption = None,
    secret: SecretOption = None, as_json: _Json = False,
) -> None:
    """Replace a tenant's secret and print the new one once; the old one stops working."""
    from prefect_quantum.store.tenants import rotate_secret

    store, by = _principal(url, block, tenant, secret)
    new = _exit2(lambda: rotate_secret(store, name, by=by))
    role = next((t["role"] for t in _exit2(lambda: _list(store, by)) if t["tenant"] == name),
                "tenant")
    _print_secret(name, role, new, as_json, "rotated")


def _list(store: SchedulerStore, by: Principal) -> list[dict[str, Any]]:
    from prefect_quantum.store.tenants import list_tenants

    return list_tenants(store, by)


@tenant_app.command("list")
def list_(
    url: _Url = None, block: _Block = None, tenant: TenantOption = None,
    secret: SecretOption = None, as_json: _Json = False,
) -> None:
    """The registered tenants: name, role, when added and last rotated (never secrets)."""
    from prefect_quantum.cli import _print_rows

    store, by = _principal(url, block, tenant, secret)
    _print_rows(_exit2(lambda: _list(store, by)), "tenants", as_json)
