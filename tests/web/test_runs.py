"""Runs in the browser: the list updating live, a run's timeline, cancel, re-run and resume.

One real `autofy serve` for the module; runs are started through the API (a webhook delivery, a
manual run) and run by the server's own workers; the HTTP steps talk to the fake echo server.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.engine.steps import delay, format_text, http_post, set_fields
from tests.fakes.http_echo import HttpEcho
from tests.web.browser import assert_accessible, run_async, screenshot, sign_up
from tests.web.conftest import LiveServer, running_server

SCRIPT = "<script>window.__xss = 1</script>"
IMAGE = '"><img src=x onerror="window.__xss = 1">'
RUN_DEADLINE_SECONDS = 30
# The streams a user may hold open at once (autofy.web.pages.runs.MAX_STREAMS_PER_USER).
MAX_STREAMS = 4


@pytest.fixture(scope="module")
def echo() -> Iterator[HttpEcho]:
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


def api_client(live_server: LiveServer, email: str) -> httpx.Client:
    """The API as the user `email` (signed up in the browser), with a bearer token."""
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def browser_client(page: Page, live_server: LiveServer) -> httpx.Client:
    """HTTP with the page's cookies: the pages as the browser's user sees them."""
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return httpx.Client(base_url=live_server.url, cookies=cookies, timeout=10)


def create_workflow(api: httpx.Client, name: str, steps: list[dict[str, Any]], **fields: Any) -> str:
    created = api.post(
        "/api/v1/workflows", json={"name": name, "trigger_type": "manual", "steps": steps} | fields
    )
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    return workflow_id


def start_run(api: httpx.Client, workflow_id: str, payload: dict[str, Any] | None = None) -> str:
    started = api.post(f"/api/v1/workflows/{workflow_id}/run", json=payload or {})
    assert started.status_code == 202, started.text
    execution_id: str = started.json()["execution_id"]
    return execution_id


def wait_for_status(api: httpx.Client, execution_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_DEADLINE_SECONDS
    while True:
        execution: dict[str, Any] = api.get(f"/api/v1/executions/{execution_id}").json()
        if execution["execution_status"] == status:
            return execution
        assert time.monotonic() < deadline, f"the run is {execution['execution_status']}, not {status}"
        time.sleep(0.05)  # the workers are another process: poll its result, with a deadline


def no_retry() -> dict[str, Any]:
    return {"error_handling": {"retry": False}}


def first_event(stream: httpx.Response) -> tuple[str, str]:
    """The name and data of the first event a server-sent event stream sends; the stream stays
    open (its line iterator is kept on the response: dropping it would close the connection)."""
    lines = stream.extensions.setdefault("test_lines", stream.iter_lines())
    name, data = "", []
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))
        elif not line and name:
            return name, "\n".join(data)
    raise AssertionError("the stream ended before its first event")


async def transactions_left_open(database_url: str) -> int:
    """How many connections to the database sit idle inside a transaction right now."""
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and state like 'idle in transaction%'"
        )
        return count
    finally:
        await connection.close()


def test_a_webhook_run_appears_live_finishes_opens_and_reruns(page: Page, live_server: LiveServer) -> None:
    email = sign_up(page, full_name="Grace Hopper")
    with api_client(live_server, email) as api:
        workflow_id = create_workflow(
            api,
            "Shout the webhook",
            [delay(seconds=2), format_text("{{ trigger.body.word }}")],
            trigger_type="webhook",
        )
        api.post(f"/api/v1/workflows/{workflow_id}/activate").raise_for_status()
        hook_url = api.get(f"/api/v1/workflows/{workflow_id}/webhook").json()["url"]

        page.goto("/runs")
        expect(page.get_by_text("No runs here")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Updating live.")
        page.evaluate("() => { window.notReloaded = true }")

        delivered = httpx.post(hook_url, json={"word": "hello"})
        assert delivered.status_code == 202, delivered.text

        row = page.locator("tbody tr", has_text="Shout the webhook")
        expect(row.locator(".badge")).to_have_text("running")
        expect(row.locator(".badge")).to_have_text("completed", timeout=RUN_DEADLINE_SECONDS * 1000)
        expect(row).to_contain_text("2/2")
        assert page.evaluate("() => window.notReloaded") is True

        row.get_by_role("link", name="Shout the webhook").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Run of Shout the webhook")
        steps = page.locator(".timeline-step")
        expect(steps).to_have_count(2)
        expect(steps.nth(0).get_by_role("heading", level=3)).to_have_text("Delay")
        expect(steps.nth(1)).to_contain_text("1 attempt")
        expect(steps.nth(1).get_by_label("Output")).to_contain_text('"result": "HELLO"')
        expect(page.get_by_role("region", name="Trigger data")).to_contain_text('"word": "hello"')
        assert_accessible(page)
        screenshot(page, "run", phone=True)

        first_run = page.url
        page.get_by_role("button", name="Re-run").click()
        expect(page).not_to_have_url(first_run)
        expect(page.locator(".run-facts .badge")).to_have_text("running")
        page.evaluate("() => { window.notReloaded = true }")
        expect(page.locator(".run-facts .badge")).to_have_text(
            "completed", timeout=RUN_DEADLINE_SECONDS * 1000
        )
        expect(page.locator(".timeline-step")).to_have_count(2)
        assert page.evaluate("() => window.notReloaded") is True
        expect(page.get_by_role("link", name="an earlier run")).to_have_attribute(
            "href", first_run.removeprefix(live_server.url)
        )

        page.goto("/runs")
        expect(page.locator("tbody tr")).to_have_count(2)
        assert_accessible(page)
        screenshot(page, "runs", phone=True)


def test_a_failed_step_is_resumed_after_its_fix_and_the_filters_find_it(
    page: Page, live_server: LiveServer, echo: HttpEcho
) -> None:
    email = sign_up(page)
    with api_client(live_server, email) as api:
        workflow_id = create_workflow(
            api,
            "Post the order",
            [
                format_text("{{ trigger.order }}"),
                http_post(f"{echo.url}/status/500", {"order": "{{ steps[1].result }}"}, **no_retry()),
            ],
        )
        create_workflow(api, "Another workflow", [format_text("x")])
        failed_id = start_run(api, workflow_id, {"order": "a-1"})
        wait_for_status(api, failed_id, "failed")

        page.goto(f"/runs/{failed_id}")
        expect(page.locator(".run-facts .badge")).to_have_text("failed")
        expect(page.locator(".run-error")).to_contain_text("answered 500")
        expect(page.locator(".timeline-step").nth(1).locator(".step-error")).to_contain_text("simulated 500")
        expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)

        # The fix: the step posts where the order is accepted.
        steps = api.get(f"/api/v1/workflows/{workflow_id}").json()["steps"]
        configuration = steps[1]["configuration"] | {"url": f"{echo.url}/echo"}
        fixed = api.patch(
            f"/api/v1/workflows/{workflow_id}/steps/{steps[1]['id']}", json={"configuration": configuration}
        )
        assert fixed.status_code == 200, fixed.text

        page.get_by_role("button", name="Resume from the failed step").click()
        expect(page).not_to_have_url(f"/runs/{failed_id}")
        expect(page.locator(".run-facts .badge")).to_have_text(
            "completed", timeout=RUN_DEADLINE_SECONDS * 1000
        )
        first, second = page.locator(".timeline-step").all()
        expect(first.locator(".badge", has_text="reused")).to_be_visible()
        expect(second.get_by_label("Output")).to_contain_text('"status_code": 200')
        expect(page.get_by_role("link", name="a failed run")).to_have_attribute("href", f"/runs/{failed_id}")
        assert echo.requests_to("/echo")[-1].json() == {"order": "A-1"}

        page.goto("/runs")
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody .badge")).to_have_text("failed")
        expect(page.get_by_text("1 run matching these filters")).to_be_visible()

        page.get_by_label("Workflow").select_option(label="Another workflow")
        page.get_by_label("Started").select_option("hour")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.get_by_text("No runs match these filters")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("link", name="Clear filters").click()
        expect(page.locator("tbody tr")).to_have_count(2)

        with browser_client(page, live_server) as pages:
            refused = pages.get("/runs", params={"status": "finished"})
            assert refused.status_code == 422
            assert (
                "cannot filter on status=&#39;finished&#39;: it takes running, completed, failed, cancelled"
                in refused.text
            )

        # A value too large for the history is shown cut, and says so.
        download = {"method": "GET", "url": f"{echo.url}/bytes/40000", "timeout_seconds": 5}
        large = create_workflow(
            api,
            "Fetch a large file",
            [{"service_name": "core", "action_name": "http_request", "configuration": download}],
        )
        large_run = start_run(api, large)
        wait_for_status(api, large_run, "completed")
        page.goto(f"/runs/{large_run}")
        marker = page.locator(".timeline-step .truncated")
        expect(marker).to_have_count(1)
        expect(marker).to_contain_text("Truncated: the value was")
        expect(marker).to_contain_text("its first 4,096 characters are shown")
        expect(page.get_by_label("Output of step 1")).to_contain_text("xxxx")


def test_a_delayed_run_is_cancelled_and_a_late_cancel_is_explained(
    page: Page, live_server: LiveServer
) -> None:
    email = sign_up(page)
    with api_client(live_server, email) as api:
        workflow_id = create_workflow(api, "Remind me tomorrow", [delay(hours=20), format_text("late")])
        waiting_id = start_run(api, workflow_id)

        page.goto(f"/runs/{waiting_id}")
        expect(page.locator(".timeline-step").nth(0)).to_contain_text("Delay")
        expect(page.get_by_role("heading", name="Step 2 of 2")).to_be_visible()
        page.get_by_role("button", name="Cancel run").click()
        expect(page.locator(".run-facts .badge")).to_have_text("cancelled")
        expect(page.locator(".run-error")).to_contain_text("Cancelled by the user.")
        expect(page.get_by_role("button", name="Re-run")).to_be_visible()
        assert api.get(f"/api/v1/executions/{waiting_id}").json()["execution_status"] == "cancelled"

        # Cancelled elsewhere (the API, another tab): the open page follows, and its button goes.
        other_id = start_run(api, workflow_id)
        page.goto(f"/runs/{other_id}")
        expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
        form_token = page.locator("form[action$='/cancel'] input[name=csrf_token]").get_attribute("value")
        api.post(f"/api/v1/executions/{other_id}/cancel").raise_for_status()
        expect(page.locator(".run-facts .badge")).to_have_text("cancelled")
        expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
        assert_accessible(page)

        # A form sent from a page that was not live any more is refused, with the reason.
        with browser_client(page, live_server) as pages:
            late = pages.post(
                f"/runs/{other_id}/cancel",
                data={"csrf_token": form_token},
                headers={"Origin": live_server.url},
            )
        assert late.status_code == 409
        assert "The execution is already cancelled." in late.text
        assert "Run of Remind me tomorrow" in late.text


def test_step_output_and_errors_are_shown_as_text_never_run(page: Page, live_server: LiveServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    email = sign_up(page)
    with api_client(live_server, email) as api:
        workflow_id = create_workflow(
            api,
            f"Payload {SCRIPT}",
            [set_fields({"note": SCRIPT, "image": IMAGE}), delay(until=IMAGE)],
        )
        execution_id = start_run(api, workflow_id)
        wait_for_status(api, execution_id, "failed")

        page.goto("/runs")
        expect(page.locator("tbody tr")).to_contain_text(f"Payload {SCRIPT}")
        expect(page.locator(".cell-note")).to_contain_text(IMAGE)
        expect(page.get_by_label("Workflow")).to_contain_text(f"Payload {SCRIPT}")
        assert page.locator("main img, main script").count() == 0
        page.goto(f"/runs/{execution_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Run of Payload {SCRIPT}")
        expect(page.locator(".timeline-step").nth(0).get_by_label("Output")).to_contain_text(SCRIPT)
        expect(page.locator(".step-error")).to_contain_text(IMAGE)
        expect(page.locator(".run-error")).to_contain_text(IMAGE)
        assert page.locator("main img, main script").count() == 0
        assert page.evaluate("() => window.__xss") is None
        assert dialogs == []


def test_the_live_list_shows_only_the_signed_in_users_runs(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    other = browser.new_context(base_url=live_server.url)
    other_email = sign_up(other.new_page(), full_name="Someone Else")
    other.close()
    with (
        api_client(live_server, other_email) as other_api,
        api_client(live_server, sign_up(page)) as api,
    ):
        secret_workflow = create_workflow(other_api, "Someone else's secret", [format_text("psst")])
        mine = create_workflow(api, "My own workflow", [format_text("hi")])
        page.goto("/runs")
        expect(page.get_by_role("status")).to_have_text("Updating live.")

        # The other user's run finishes first: a stream that leaked would show it before mine.
        secret_run = start_run(other_api, secret_workflow)
        wait_for_status(other_api, secret_run, "completed")
        start_run(api, mine)
        expect(page.locator("tbody tr", has_text="My own workflow")).to_be_visible()
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.get_by_text("Someone else's secret")).to_have_count(0)

    with browser_client(page, live_server) as pages:
        with pages.stream("GET", "/runs/events") as stream:
            name, html = first_event(stream)
        assert name == "runs"
        assert "My own workflow" in html
        assert "Someone else" not in html
        assert pages.get(f"/runs/{secret_run}").status_code == 404
        assert pages.get(f"/runs/{secret_run}/events").status_code == 404
        cancel = pages.post(f"/runs/{secret_run}/cancel", headers={"Origin": live_server.url})
        assert cancel.status_code in (403, 404)


def test_live_streams_are_bounded_per_user_and_end_with_the_session(
    page: Page, live_server: LiveServer
) -> None:
    sign_up(page)  # on Home: no stream open from the browser
    with browser_client(page, live_server) as pages:
        with (
            pages.stream("GET", "/runs/events") as first,
            pages.stream("GET", "/runs/events") as second,
            pages.stream("GET", "/runs/events") as third,
            pages.stream("GET", "/runs/events") as fourth,
        ):
            assert [first_event(stream)[0] for stream in (first, second, third, fourth)] == [
                "runs"
            ] * MAX_STREAMS
            with pages.stream("GET", "/runs/events") as refused:
                name, message = first_event(refused)
            assert name == "paused"
            assert "close another Autofy tab" in message
            # Between polls the open streams hold no transaction (one held shows in every sample).
            samples = (run_async(transactions_left_open(live_server.database_url)) for _ in range(100))
            assert 0 in samples

        # Closed streams are given back: a new one is accepted again.
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        while True:
            with pages.stream("GET", "/runs/events") as again:
                if first_event(again)[0] == "runs":
                    break
            assert time.monotonic() < deadline, "closed streams were never given back"
            time.sleep(0.05)  # the server notices a closed connection on its own time

        # Signing out ends the session's streams: the next thing one sends says so.
        with pages.stream("GET", "/runs/events") as stream:
            assert first_event(stream)[0] == "runs"
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
            assert first_event(stream)[0] == "signed-out"


def test_the_server_stops_promptly_with_a_live_page_open(page: Page, live_server: LiveServer) -> None:
    sign_up(page)
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    with (
        running_server(live_server.database_url) as (server, process),
        httpx.Client(base_url=server.url, cookies=cookies, timeout=10) as pages,
        pages.stream("GET", "/runs/events") as stream,
    ):
        assert first_event(stream)[0] == "runs"
        process.send_signal(signal.SIGTERM)
        # Without its stream ending on shutdown, the server would wait for this page forever.
        assert process.wait(timeout=RUN_DEADLINE_SECONDS) == 0
