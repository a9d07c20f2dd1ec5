"""Who may open the dashboard: never an AxonHub client key, never a non-loopback peer by default."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from axonhub.config import DashboardConfig
from axonhub.dashboard.access import (
    LOGIN_TTL_S,
    SESSION_COOKIE,
    AdminAccess,
    load_or_create_token,
    login_code,
    peer_refusal,
)
from tests.conftest import SECRET, base_config
from tests.dashboard.harness import Dash, start_dash
from tests.dashboard.records import rotated_log
from tests.errors_shape import assert_anthropic_error

API_PATHS = [
    "/dashboard/api/status",
    "/dashboard/api/facets",
    "/dashboard/api/sessions",
    "/dashboard/api/sessions/s-alpha",
    "/dashboard/api/requests/req_0000",
    "/dashboard/api/usage",
    "/dashboard/api/latency",
    "/dashboard/api/channels",
    "/dashboard/api/charts/usage.svg",
]
CREDENTIALS = [
    pytest.param({}, id="none"),
    pytest.param({"Authorization": f"Bearer {SECRET}"}, id="client-key-bearer"),
    pytest.param({"x-api-key": SECRET}, id="client-key-x-api-key"),
    pytest.param({"Authorization": "Bearer not-the-admin-token-0123456789"}, id="wrong-token"),
    pytest.param({"Cookie": f"{SESSION_COOKIE}=9999999999.forged"}, id="forged-cookie"),
]


@pytest.mark.parametrize("headers", CREDENTIALS)
async def test_the_data_apis_refuse_anyone_without_the_admin_credential(dash: Dash, headers):
    for path in API_PATHS:
        status, body = await dash.get(path, headers=headers)
        assert (path, status, body) == (
            path,
            401,
            {"error": "the dashboard needs the admin token or a login link (axonhub dashboard)"},
        )


@pytest.mark.parametrize("headers", CREDENTIALS)
async def test_the_page_sends_anyone_without_the_credential_to_the_login_page(dash: Dash, headers):
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.url + "/dashboard/", headers=headers, allow_redirects=False) as response,
    ):
        assert (response.status, response.headers["Location"]) == (303, "/dashboard/login")


async def test_the_admin_token_opens_every_api(dash: Dash):
    for path in API_PATHS:
        status, _ = await dash.get(path)
        assert (path, status) == (path, 200)


async def test_a_one_time_login_link_gives_a_session_cookie_once(dash: Dash):
    code = login_code(dash.token)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(dash.url + f"/dashboard/login?code={code}", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/dashboard/")
            cookie = response.cookies[SESSION_COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/dashboard"
        async with http.get(dash.url + "/dashboard/api/status") as response:
            assert response.status == 200
        async with http.get(dash.url + "/dashboard/", allow_redirects=False) as response:
            assert response.status == 200 and "AxonHub dashboard" in await response.text()
            assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        async with http.post(dash.url + "/dashboard/logout", allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(dash.url + "/dashboard/api/status") as response:
            assert response.status == 401
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.url + f"/dashboard/login?code={code}", allow_redirects=False) as response,
    ):
        assert response.status == 401 and "used up or expired" in await response.text()


async def test_the_login_form_takes_the_token_and_refuses_a_client_key(dash: Dash):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(dash.url + "/dashboard/login", data={"token": SECRET}, allow_redirects=False) as response:
            assert response.status == 401 and "not the admin token" in await response.text()
        async with http.post(
            dash.url + "/dashboard/login", data={"token": dash.token}, allow_redirects=False
        ) as response:
            assert response.status == 303
        async with http.get(dash.url + "/dashboard/api/facets") as response:
            assert response.status == 200


async def test_oversized_bodies_are_refused_before_they_are_read_whole(dash: Dash):
    async with aiohttp.ClientSession() as http:
        async with http.post(dash.url + "/dashboard/login", data={"token": "x" * 10_000}) as response:
            assert response.status == 413
        async with http.post(
            dash.url + "/dashboard/api/replay", data=b"{" + b" " * 70_000 + b"}", headers=dash.admin
        ) as response:
            assert (response.status, await response.json()) == (400, {"error": "request body too large"})


async def test_a_host_header_that_is_not_loopback_is_refused_even_with_the_token(dash: Dash):
    status, body = await dash.get("/dashboard/api/status", headers={**dash.admin, "Host": "attacker.example:8090"})
    assert (status, body) == (
        403,
        {"error": "the dashboard answers only to a loopback Host header (127.0.0.1, localhost, [::1])"},
    )


async def test_a_cross_origin_post_is_refused(dash: Dash):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            dash.url + "/dashboard/api/replay",
            json={"request_id": "req_0000", "profile": "passthrough"},
            headers={**dash.admin, "Origin": "http://attacker.example"},
        ) as response,
    ):
        assert (response.status, await response.json()) == (403, {"error": "cross-origin request refused"})


async def test_replay_headers_with_a_client_key_are_refused_in_the_clients_format(dash: Dash):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            dash.url + "/v1/messages",
            json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={
                "x-api-key": SECRET,
                "anthropic-version": "2023-06-01",
                "X-AxonHub-Replay-Of": "req_0000",
                "X-AxonHub-Replay-Profile": "passthrough",
                "X-AxonHub-Replay-Key": "alice",
            },
        ) as response,
    ):
        await assert_anthropic_error(
            response,
            403,
            "permission_error",
            "X-AxonHub-Replay-Of is honoured only with the admin token; an AxonHub key cannot choose a profile",
        )


async def test_a_disabled_dashboard_is_not_served_and_replays_are_off(start_gateway, upstream, tmp_path: Path):
    config = base_config(upstream.url, rotated_log(tmp_path))
    config["server"]["dashboard"] = {"enabled": False}
    gateway = await start_gateway(config)
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/dashboard/api/status") as response:
            assert response.status == 404
        async with http.post(
            gateway.url + "/v1/messages",
            json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": SECRET, "X-AxonHub-Replay-Of": "req_0000"},
        ) as response:
            assert response.status == 403
    assert not (tmp_path / "axonhub-admin.token").exists()


async def test_the_remote_switch_lifts_the_loopback_check_but_not_the_credential(start_gateway, upstream, tmp_path):
    config = base_config(upstream.url, rotated_log(tmp_path))
    config["server"]["dashboard"] = {"allow_remote": True}
    dash = await start_dash(start_gateway, tmp_path, config)
    remote_host = {"Host": "gateway.internal:8090"}
    assert (await dash.get("/dashboard/api/status", headers={**dash.admin, **remote_host}))[0] == 200
    assert (await dash.get("/dashboard/api/status", headers=remote_host))[0] == 401


def test_a_peer_that_is_not_on_loopback_is_refused():
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return ("192.0.2.7", 50000) if name == "peername" else default

    request = make_mocked_request(
        "GET", "/dashboard/api/status", headers={"Host": "127.0.0.1:8090"}, transport=Transport()
    )
    assert peer_refusal(request, DashboardConfig()) == (
        "the dashboard answers on loopback only (set server.dashboard.allow_remote to serve other hosts)"
    )
    assert peer_refusal(request, DashboardConfig(allow_remote=True)) is None


def test_the_token_file_is_created_private_and_reused(tmp_path: Path):
    path = tmp_path / "sub" / "admin.token"
    token = load_or_create_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(token) >= 40
    assert load_or_create_token(path) == token
    os.chmod(path, 0o644)
    assert load_or_create_token(path) == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("\n")
    with pytest.raises(OSError, match="holds no token"):
        load_or_create_token(path)


def test_login_codes_are_single_use_and_expire_and_sessions_are_signed():
    access = AdminAccess("a-token-of-enough-length-000000")
    now = time.time()
    code = login_code(access.token, now)
    assert access.redeem(code, now) is True
    assert access.redeem(code, now) is False
    assert access.redeem(login_code(access.token, now - LOGIN_TTL_S - 1), now) is False
    assert access.redeem(login_code("another-token-of-enough-length", now), now) is False
    cookie = access.session_cookie(now)
    assert access.valid_session(cookie, now) is True
    assert access.valid_session(cookie, now + 13 * 3600) is False
    expiry, _, signature = cookie.partition(".")
    assert access.valid_session(f"{int(expiry) + 3600}.{signature}", now) is False
    assert AdminAccess("another-token-of-enough-length").valid_session(cookie, now) is False


async def test_the_admin_token_is_never_written_where_a_client_key_could_put_it(dash: Dash) -> None:
    """A client that pastes the admin token into a request (here as a model name) finds it nowhere:
    not in its error body, not in the trace."""
    body = {"model": dash.token, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(dash.url + "/v1/messages", json=body, headers={"x-api-key": SECRET}) as response,
    ):
        answer = await response.text()
    assert response.status == 404
    assert dash.token not in answer
    trace = dash.gateway.config.server.trace.path
    for _ in range(100):
        if "[redacted]" in trace.read_text():
            break
        await asyncio.sleep(0.02)
    assert dash.token not in trace.read_text() and "[redacted]" in trace.read_text()


@pytest.mark.parametrize(("peer", "allowed"), [("::ffff:127.0.0.1", True), ("::1", True), ("::ffff:192.0.2.7", False)])
def test_an_ipv4_peer_seen_through_a_dual_stack_listener_is_judged_by_its_ipv4_address(peer: str, allowed: bool):
    """With `server.host: "::"` an IPv4 client arrives as ::ffff:a.b.c.d: loopback when a.b.c.d is."""

    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 50000, 0, 0) if name == "peername" else default

    request = make_mocked_request(
        "GET", "/dashboard/api/status", headers={"Host": "127.0.0.1:8090"}, transport=Transport()
    )
    assert (peer_refusal(request, DashboardConfig()) is None) is allowed
