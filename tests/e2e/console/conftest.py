"""The operators' console in a real browser: headless Chromium (Debian's `chromium`, which
`make test` installs when it is missing) driven by Playwright, against the session's whole stack
(tests/e2e/conftest.py: Azurite, the IoT Hub simulator, the dev host running function_app.py).

Each test makes its own simulated devices (never failing on their own, unless it says so) and its
own group, so what other tests do to the demo fleet does not reach it. Nothing here sleeps: every
wait is Playwright's `expect` (or `wait_for`) with a deadline.
"""
from __future__ import annotations

import csv
import io
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local.waiting import wait_for
from shared.domain.access import Role
from tests.e2e.conftest import PROJECT_ROOT, Api

CHROMIUM = Path("/usr/bin/chromium")
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _screenshots_folder() -> Path:
    """docs/console once a publish leaves docs/ out (.funcignore); until then a folder of these tests,
    since tests/unit/test_package.py refuses any file a publish would ship that is not the app."""
    import pathspec
    ignored = pathspec.GitIgnoreSpec.from_lines((PROJECT_ROOT / ".funcignore").read_text().splitlines())
    docs = PROJECT_ROOT / "docs" / "console"
    return docs if ignored.match_file("docs/console/screenshot.png") else Path(__file__).parent / "screenshots"


SCREENSHOTS = _screenshots_folder()
ENDED = ("completed", "failed", "cancelled")
# Long enough for a job on a few devices to be planned, sent and collected on a loaded machine.
JOB_SECONDS = 90

expect.set_options(timeout=JOB_SECONDS * 1000)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def device_filter(device_ids: list[str]) -> str:
    return "SELECT * FROM devices WHERE $id IN [" + ", ".join(f'"{d}"' for d in device_ids) + "]"


@pytest.fixture(scope="package")
def browser() -> Browser:
    """One Chromium for these tests, closed after them: Playwright's sync API keeps an event loop
    running in this thread while it is open, which other tests' asyncio.run() must not meet."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` (or `make setup`) installs Debian's chromium package")
    # Root (containers, CI) cannot use Chromium's sandbox; /dev/shm is small there too.
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield launched
        launched.close()


@dataclass
class Console:
    """The console at `url`, as one person in one browser tab sees it."""
    url: str
    base_url: str
    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def open(self, token: str) -> Page:
        """Open the console and sign in with `token`, as a person pasting it would."""
        page = self.page
        page.goto(self.url)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("API token").fill(f"export TOKEN='{token}'")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
        return page

    def goto(self, fragment: str) -> Page:
        self.page.goto(f"{self.url}{fragment}")
        return self.page


@pytest.fixture
def console_url(app_host) -> str:
    return f"{app_host.base_url}/api/console/"


def new_console(browser: Browser, console_url: str, base_url: str, **options):
    options = {"viewport": {"width": 1366, "height": 900}, **options}  # a laptop, unless said
    context = browser.new_context(accept_downloads=True, **options)
    page = context.new_page()
    console = Console(console_url, base_url, page)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    # The browser logs every 4xx fetch as "Failed to load resource"; the console shows those itself.
    page.on("console", lambda message: message.type == "error" and not message.text.startswith("Failed to load resource")
            and console.errors.append(f"console: {message.text}"))
    page.on("request", lambda request: console.requests.append(request.url))
    return context, console


@pytest.fixture
def console(browser, console_url, app_host):
    """A fresh browser context (its own sessionStorage) on the console; no script error may happen in it."""
    context, opened = new_console(browser, console_url, app_host.base_url)
    yield opened
    context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"


@pytest.fixture
def second_console(browser, console_url, app_host):
    """Another person's tab (another context: nothing shared with `console`)."""
    context, opened = new_console(browser, console_url, app_host.base_url)
    yield opened
    context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"


@pytest.fixture
def tablet_console(browser, console_url, app_host):
    """The console on a tablet held upright, touch and all."""
    context, opened = new_console(browser, console_url, app_host.base_url, viewport={"width": 768, "height": 1024},
                                  has_touch=True, is_mobile=True, device_scale_factor=2)
    yield opened
    context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"


@pytest.fixture
def axe_console(browser, console_url, app_host):
    """A console whose page lets the test inject axe-core (the page's policy forbids foreign scripts)."""
    context, opened = new_console(browser, console_url, app_host.base_url, bypass_csp=True)
    yield opened
    context.close()
    assert not opened.errors, f"errors in the page: {opened.errors}"


@pytest.fixture
def devices(hub):
    """make(n, **behaviour): n simulated devices of this test's own, connected, never failing on
    their own (unless behaviour says), answering commands in 10 ms; deleted after the test."""
    made: list[str] = []
    manager = hub.registry_manager()

    def make(count: int, prefix: str = "console", **behaviour) -> list[str]:
        ids = [unique(prefix) for _ in range(count)]
        for device_id in ids:
            manager.create_device_with_sas(device_id, None, None, "enabled")
            made.append(device_id)
            hub.control.set_online(device_id, True)
            hub.control.set_behaviour(device_id, **{"failure_probability": 0, "latency": "fixed:10", **behaviour})
        return sorted(ids)

    yield make
    for device_id in made:
        try:
            manager.delete_device(device_id)
        except Exception:  # deleted by the test itself
            pass


@pytest.fixture
def group_table(azurite):
    """The devicegroups table itself, to store what the API would refuse (a corrupted group)."""
    from azure.data.tables import TableServiceClient

    from shared.storage_names import DEVICE_GROUPS_TABLE
    return TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(DEVICE_GROUPS_TABLE)


@pytest.fixture
def make_group(api):
    def make(device_ids: list[str], display_name: str | None = None) -> tuple[str, str]:
        """(id, display name) of a new group holding exactly these devices."""
        group_id = unique("group")
        name = display_name or f"Console {group_id[-6:]}"
        response = api.put(f"deviceGroups/{group_id}", {"displayName": name, "filter": device_filter(device_ids)})
        assert response.status_code == 200, response.text
        return group_id, name
    return make


def job(api: Api, job_id: str) -> dict:
    response = api.get(f"jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_job(api: Api, job_id: str, condition, what: str) -> dict:
    return wait_for(lambda: condition(found := job(api, job_id)) and found, timeout=JOB_SECONDS, interval=0.2,
                    what=f"job {job_id} {what}")


def wait_ended(api: Api, job_id: str) -> dict:
    return wait_job(api, job_id, lambda found: found["status"] in ENDED, "to end")


def job_devices(api: Api, job_id: str) -> dict[str, dict]:
    rows, url = {}, f"jobs/{job_id}/devices"
    while url:
        response = api.get(url) if not url.startswith("http") else api.session.get(url, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.update({row["id"]: row for row in body["value"]})
        url = body.get("nextLink")
    return rows


def desired_patches(hub, device_id: str) -> list[dict]:
    """The desired-property patches the simulated device's twin received."""
    return [entry.get("desired") or {} for entry in hub.control.device_log(device_id)
            if entry["operation"] in ("update_twin", "replace_twin") and entry.get("desired")]


def echoes(hub, device_id: str) -> int:
    """Echo commands the device received and answered."""
    return sum(1 for entry in hub.control.device_log(device_id)
               if entry.get("methodName") == "echo" and entry.get("result") == 200)


def make_token(api: Api, role: Role) -> str:
    """An API token with one role, made as an Administrator makes one."""
    expiry = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    response = api.put(f"apiTokens/{unique('console')}", {"roles": [{"role": role.id}], "expiry": expiry})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def read_csv(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The job details (name → value) and the device rows of a results CSV."""
    assert text.startswith("\ufeff"), "the CSV starts with a byte order mark"
    details_part, _, devices_part = text[1:].partition("\r\n\r\n")
    details = {row[0]: row[1] if len(row) > 1 else "" for row in csv.reader(io.StringIO(details_part)) if row}
    return details, list(csv.DictReader(io.StringIO(devices_part)))


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def axe_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [node["target"] for node in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
