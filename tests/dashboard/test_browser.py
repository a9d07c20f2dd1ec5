"""The dashboard in a real headless Chromium, on real traffic sent through the gateway to fake upstreams.

Screenshots of every page go to tests/artifacts/screenshots/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from axonhub.dashboard.access import login_url
from tests.claude_code import run_claude
from tests.conftest import SECRET
from tests.dashboard.browser import SCREENSHOTS, chromium_page, screenshot
from tests.dashboard.harness import Dash, ReplayRig, tool_use_message, wait_for
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform import claude_code_requests as cc

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def sdk_traffic(dash: Dash, upstream: FakeUpstream, trace_id: str, *, fail: bool = False) -> None:
    """Requests of the official anthropic SDK, grouped by X-Trace-Id: one whole answer, one stream."""
    client = anthropic.AsyncAnthropic(
        base_url=dash.url, api_key=SECRET, max_retries=0, default_headers={"X-Trace-Id": trace_id}
    )
    message = wire.message([{"type": "text", "text": "Hello from the fake upstream."}], model="claude-sonnet-4-5")
    upstream.enqueue(Reply.json(message), Reply.sse(wire.stream_events(message)))
    messages: list[Any] = [{"role": "user", "content": "hello"}]
    await client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=messages)
    async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=messages) as stream:
        await stream.get_final_message()
    if fail:
        upstream.enqueue(Reply.json(wire.error("overloaded_error", "Overloaded"), status=529))
        with pytest.raises(anthropic.APIStatusError):
            await client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=messages)
    await client.close()


async def claude_code_traffic(rig: ReplayRig) -> list[str]:
    """A Claude Code tool loop: the Bash call, then the answer after its result."""
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(tool_use_message())))
    first = await rig.claude_code(cc.main_body())
    done = wire.message([{"type": "text", "text": "There are two files."}], model="claude-opus-4-8")
    rig.anthropic.enqueue(Reply.sse(wire.stream_events(done)))
    second = await rig.claude_code(cc.main_body(messages=cc.tool_loop("toolu_01", "ls", "a.txt\nb.txt")))
    return [first, second]


async def count(page: Any, selector: str) -> int:
    return int(await page.locator(selector).count())


async def test_the_dashboard_in_chromium(rig: ReplayRig):
    dash = rig.dash
    cc_requests = await claude_code_traffic(rig)
    await sdk_traffic(dash, rig.anthropic, "sdk-session", fail=True)
    await rig.indexed(cc_requests[-1])

    async with chromium_page() as (page, problems):
        # sessions: both sessions of the traffic above, newest first
        await page.goto(login_url(dash.url, dash.token))
        await page.wait_for_selector('tr[data-trace-id="sdk-session"]')
        rows = await page.locator("tr[data-trace-id]").evaluate_all("rows => rows.map(r => r.dataset.traceId)")
        assert rows == ["sdk-session", cc.SESSION]
        sdk_row = await page.locator('tr[data-trace-id="sdk-session"]').inner_text()
        assert "anthropic-python" in sdk_row.lower() or "python" in sdk_row.lower()
        await screenshot(page, "sessions")

        # a new request appears without a reload
        await page.evaluate("window.__sameDocument = true")
        await sdk_traffic(dash, rig.anthropic, "live-session")
        await page.wait_for_selector('tr[data-trace-id="live-session"]', timeout=10_000)
        assert await page.evaluate("window.__sameDocument === true")
        await screenshot(page, "sessions-live")

        # a session's timeline shows its requests in order, each expandable
        await page.click(f'a[href="#/session/{cc.SESSION}"]')
        await page.wait_for_selector("tr[data-request-id]")
        shown = await page.locator("tr[data-request-id]").evaluate_all("rows => rows.map(r => r.dataset.requestId)")
        assert shown == cc_requests
        await page.click(f'tr[data-request-id="{cc_requests[0]}"]')
        await page.wait_for_selector(".request-detail")
        assert "Upstream attempts" in await page.locator(".request-detail").inner_text()
        await screenshot(page, "session")

        # replay the tool-use request under the cheap profile from its detail view
        await page.select_option('.request-detail select[name="profile"]', "cheap")
        await page.click(".request-detail button.replay")
        await page.wait_for_selector(".compare .answer >> nth=1", timeout=15_000)
        compare = await page.locator(".compare").inner_text()
        assert "Running it." in compare and "Listing." in compare and "ls -la" in compare
        assert "fake-deepseek" in compare and "fake-anthropic" in compare
        await page.wait_for_selector(".replay-totals")
        await screenshot(page, "replay")

        # usage and latency charts render with data
        await page.goto(dash.url + "/dashboard/#/usage?range=24h")
        await page.wait_for_selector("svg.chart-bars rect.col")
        assert await count(page, 'div[data-chart="tokens"] svg rect.col') > 0
        assert await count(page, 'div[data-chart="cache"] svg circle.dot') > 0
        assert "fake-anthropic" not in await page.locator("table.usage").inner_text()  # grouped by model
        await screenshot(page, "usage")
        await page.goto(dash.url + "/dashboard/#/latency?range=24h&by=channel")
        await page.wait_for_selector('div[data-chart="latency"] svg circle.dot')
        assert "fake-anthropic" in await page.locator("table.latency").inner_text()
        await screenshot(page, "latency")
        await page.goto(dash.url + "/dashboard/#/channels")
        await page.wait_for_selector('tr[data-channel="fake-deepseek"]')
        assert "available" in await page.locator('tr[data-channel="fake-anthropic"]').inner_text()
        await screenshot(page, "channels")

        assert problems == []
    assert (SCREENSHOTS / "replay.png").exists()


async def test_the_login_page_in_chromium_refuses_a_client_key(rig: ReplayRig):
    async with chromium_page() as (page, problems):
        await page.goto(rig.dash.url + "/dashboard/")
        await page.wait_for_selector('input[name="token"]')
        await page.fill('input[name="token"]', SECRET)
        await page.click('button[type="submit"]')
        await page.wait_for_selector("text=That is not the admin token.")
        await page.fill('input[name="token"]', rig.dash.token)
        await page.click('button[type="submit"]')
        await page.wait_for_selector("tr[data-trace-id], td.muted")
        await screenshot(page, "login")
        async with aiohttp.ClientSession() as http, http.get(rig.dash.url + "/dashboard/api/status") as response:
            assert response.status == 401  # the browser's session is not anyone else's
        # the refused sign-in (a 401) is the one console error
        assert [p for p in problems if "401" not in p] == []


@pytest.mark.claude_code
async def test_a_real_claude_code_session_in_chromium(rig: ReplayRig, tmp_path):
    """The real `claude -p` through the gateway: its session is listed and its timeline shows its requests."""
    rig.anthropic.default = Reply.sse(wire.stream_events(wire.message([{"type": "text", "text": "Done."}])))
    run = await run_claude("Say done.", base_url=rig.dash.url, key=SECRET, home=tmp_path / "home")
    assert run.returncode == 0 and run.result.get("is_error") is False, run.stderr
    session = str(run.result["session_id"])

    async def listed() -> bool:
        _, found = await rig.dash.get(f"/dashboard/api/sessions?q={session}")
        return bool(found["sessions"])

    await wait_for(listed)
    _, page = await rig.dash.get(f"/dashboard/api/sessions?q={session}")
    assert [s["trace_id"] for s in page["sessions"]] == [session]
    requests = page["sessions"][0]["requests"]

    async with chromium_page() as (page_, problems):
        await page_.goto(login_url(rig.dash.url, rig.dash.token))
        await page_.wait_for_selector(f'tr[data-trace-id="{session}"]')
        assert "claude-cli/" in await page_.locator(f'tr[data-trace-id="{session}"]').inner_text()
        await page_.click(f'a[href="#/session/{session}"]')
        await page_.wait_for_selector("tr[data-request-id]")
        assert await count(page_, "tr[data-request-id]") == requests
        await screenshot(page_, "claude-code-session")
        assert problems == []
