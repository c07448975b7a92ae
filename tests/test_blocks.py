"""The Blocks pass Prefect's standard block test suite (its logo check needs the network)."""

from __future__ import annotations

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import ValidationError

from prefect_quantum.blocks import QuantumFleet, QuantumScheduler, QuantumTenantCredentials


@pytest.mark.parametrize("block", [QuantumScheduler, QuantumFleet, QuantumTenantCredentials])
class TestBlockStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, request: pytest.FixtureRequest) -> type[Block]:
        return request.param  # type: ignore[no-any-return]

    @pytest.mark.skip(reason="downloads the logo: this machine is offline but for PyPI")
    def test_has_a_valid_image(self, block: type[Block]) -> None:  # type: ignore[override]
        pass


def test_policy_mirrors_the_block_fields() -> None:
    scheduler = QuantumScheduler(shares={"chem": 3.0}, min_run_s=5, retries=4)
    policy = scheduler.policy()
    assert policy.share_of("chem") == 3.0 and policy.share_of("other") == 1.0
    assert (policy.min_run_s, policy.retries) == (5, 4)


@pytest.mark.parametrize(
    "fields", [{"shares": {"x": -1.0}}, {"retries": -1}, {"lease_ttl_s": 0}, {"fallback": "x"}]
)
def test_bad_block_fields_are_refused(fields: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        QuantumScheduler(**fields)


@pytest.mark.usefixtures("prefect_api")
def test_save_and_load_round_trip_keeps_the_store_url_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    QuantumScheduler(store_url=url, shares={"a": 2.0}).save("test-default", overwrite=True)
    loaded = QuantumScheduler.load("test-default")
    assert loaded.url() == url and loaded.shares == {"a": 2.0}
    assert "x.db" not in repr(loaded.store_url)


@pytest.mark.usefixtures("prefect_api")
def test_tenant_credentials_save_masked_and_load_inside_the_scheduler(tmp_path) -> None:  # type: ignore[no-untyped-def]
    credentials = QuantumTenantCredentials(tenant="chem-team", secret="s3cret-s3cret-s3cret")
    assert "s3cret" not in repr(credentials) and "s3cret" not in str(credentials.model_dump())
    QuantumScheduler(
        store_url=f"sqlite:///{tmp_path / 'x.db'}", credentials=credentials
    ).save("test-tenant", overwrite=True)
    loaded = QuantumScheduler.load("test-tenant")
    assert loaded.credentials is not None
    assert loaded.credentials.credentials().secret == "s3cret-s3cret-s3cret"
    with pytest.raises(ValidationError):
        QuantumTenantCredentials(tenant="a b", secret="x")
