"""The Prefect UI in a real browser: Debian's chromium, headless, driven by Playwright.

Against a real `prefect server start` on PostgreSQL (the `server` fixture in conftest.py),
with the blocks registered, the project deployed and one process worker: open the
`hybrid-job` deployment, open its custom-run form, type a tenant, a shot count and a
mitigation, submit, and see the run complete. Screenshots of the filled form and of the
completed run go under the test's tmp dir; the run's parameters are checked via the API.

Skips without /usr/bin/chromium (`apt-get install chromium`) or the `playwright` package
(`pip install playwright`; no `playwright install`: the test drives the system chromium).
Stops everything it starts: the browser here, the worker here, the server in conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"),
]
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="needs the playwright package (pip install playwright; the test drives "
           f"{CHROMIUM}, so no `playwright install`)",
)

TENANT, SHOTS, MITIGATION = "ui-tenant", 321, "rem"


@pytest.fixture(scope="module")
def worker(deployed: dict[str, str]) -> Iterator[dict[str, str]]:
    """One process worker on the `quantum` pool of the session's deployment (conftest.py)."""
    env, py = deployed, sys.executable
    log_path = Path(env["PREFECT_HOME"]) / "worker-ui.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [py, "-m", "prefect", "worker", "start", "--pool", "quantum"],
            env={**env, "PREFECT_LOGGING_LEVEL": "INFO"}, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield {**env, "WORKER_LOG": str(log_path)}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def _field(page: Any, name: str) -> Any:
    """The input group of the run form's parameter `name`.

    The form's `<label for=...>` points at no element, so `get_by_label` finds nothing; a
    property is the innermost block holding its label text (`name`, or `name (Optional)`)
    and a `group` (its fieldset), and the input is found in that group by its role.
    """
    label = page.get_by_text(re.compile(rf"^{re.escape(name)}( \(Optional\))?$"))
    prop = page.locator("div").filter(has=label).filter(has=page.get_by_role("group")).last
    return prop.get_by_role("group")


def _flow_runs(api: httpx.Client, deployment_id: str) -> list[dict[str, Any]]:
    resp = api.post("/flow_runs/filter", json={
        "flow_runs": {"deployment_id": {"any_": [deployment_id]}}})
    resp.raise_for_status()
    return list(resp.json())


def test_custom_run_form_in_the_browser_runs_hybrid_job(
    worker: dict[str, str], tmp_path: Path
) -> None:
    env = worker
    api_url = env["PREFECT_API_URL"]
    ui_url = api_url.removesuffix("/api")
    with httpx.Client(base_url=api_url, timeout=10) as api:
        resp = api.get("/deployments/name/hybrid-job/hybrid-job")
        resp.raise_for_status()
        deployment_id = resp.json()["id"]
        # The session's other tests may have run this deployment: ours is the new run.
        earlier = {r["id"] for r in _flow_runs(api, deployment_id)}

        def new_runs() -> list[dict[str, Any]]:
            return [r for r in _flow_runs(api, deployment_id) if r["id"] not in earlier]

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
                headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(30_000)
                page.goto(f"{ui_url}/deployments/deployment/{deployment_id}")
                sync_api.expect(page.get_by_role("navigation")).to_contain_text("hybrid-job")
                page.get_by_role("button", name="Run", exact=True).click()
                page.get_by_role("button", name="Custom run").click()
                submit = page.get_by_role("button", name="Submit")
                submit.wait_for()

                _field(page, "shots").get_by_role("spinbutton").fill(str(SHOTS))
                _field(page, "tenant").get_by_role("textbox").fill(TENANT)
                # The select opens from the keyboard (a mouse click did not open it in
                # headless chromium); the option is then picked by its role and name.
                _field(page, "mitigation").get_by_role("button").press("ArrowDown")
                page.get_by_role("listbox").get_by_role(
                    "option", name=MITIGATION, exact=True).click()
                sync_api.expect(_field(page, "mitigation").get_by_role("button")).to_have_text(
                    MITIGATION)
                page.screenshot(path=tmp_path / "custom-run-form.png", full_page=True)
                submit.click()

                # The UI creates the run through the API; the worker runs it.
                deadline = time.monotonic() + 120
                runs = new_runs()
                while not (runs and runs[0]["state_type"] in {
                        "COMPLETED", "FAILED", "CRASHED", "CANCELLED"}):
                    assert time.monotonic() < deadline, (
                        runs, Path(env["WORKER_LOG"]).read_text()[-4000:])
                    time.sleep(1)
                    runs = new_runs()
                assert len(runs) == 1, runs
                run = runs[0]
                assert run["state_type"] == "COMPLETED", (
                    run["state"], Path(env["WORKER_LOG"]).read_text()[-4000:])

                # ... and the UI shows it completed.
                page.goto(f"{ui_url}/runs/flow-run/{run['id']}")
                header = page.get_by_role("banner")
                sync_api.expect(header).to_contain_text(run["name"])
                sync_api.expect(header.get_by_text("Completed", exact=True)).to_be_visible()
                shot = tmp_path / "hybrid-job-run-completed.png"
                page.screenshot(path=shot, full_page=True)
            finally:
                browser.close()
        assert shot.stat().st_size > 10_000

        # The parameters as typed in the form, with their JSON types, reached the run...
        params = run["parameters"]
        assert params["tenant"] == TENANT
        assert params["shots"] == SHOTS and isinstance(params["shots"], int)
        assert params["mitigation"] == MITIGATION
        assert params["circuits"] == ["ghz:5"]  # the deployment's default, left as is
        # ... and the job itself: its result table has a row per circuit with them.
        resp = api.post("/artifacts/filter", json={"artifacts": {
            "flow_run_id": {"any_": [run["id"]]}, "type": {"any_": ["table"]}}})
        resp.raise_for_status()
        tables = resp.json()
        assert tables, "the run published no table artifact"
        rows = [row for table in tables for row in (
            json.loads(table["data"]) if isinstance(table["data"], str) else table["data"])]
        assert rows and all(
            row["shots"] == SHOTS and row["mitigation"] == MITIGATION for row in rows), rows
