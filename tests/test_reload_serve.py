"""Live reload in a real `axonhub serve` process, through the files that must never be taken.

A config that cannot be read as UTF-8, an empty or comment-only file, a file left half-written and a
file caught while an editor is still writing it in place: the server keeps serving the old keys
through all of them, logs why it refused each, and still follows the next valid edit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from axonhub.config import EMPTY_DOCUMENT, load_config
from tests.conftest import OTHER_SECRET, SECRET, ServeFactory, base_config
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.slow

ENV = {"FAKE_ANTHROPIC_KEY": "sk-ant-upstream-secret-key-000"}


def dump(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


async def key_status(url: str, secret: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/models", headers={"x-api-key": secret}) as r:
        return r.status


async def test_live_reload_survives_unreadable_empty_and_half_written_files_and_follows_the_next_edit(
    serve: ServeFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    data = base_config(upstream.url, tmp_path / "trace.jsonl")
    path = tmp_path / "axonhub.yml"
    good = dump(data)
    path.write_bytes(good)
    server = await serve(path, env=ENV)
    assert await key_status(server.url, SECRET) == 200

    cut = good.index(b"sha256:") + 20  # in the middle of alice's hash
    bad_files = [
        (good + b"# caf\xe9 au lait\n", "(encoding) not valid UTF-8: byte 0xe9 at line"),
        (b"", EMPTY_DOCUMENT),
        (b"# everything commented out while I think\n# keys: []\n", EMPTY_DOCUMENT),
        (good[:cut], "keys[0].secret_hash: "),
    ]
    for count, (content, reason) in enumerate(bad_files, start=1):
        path.write_bytes(content)
        await server.wait_for_event("keeping the previous config", count=count)
        errors = [e["error"] for e in server.events() if e["event"] == "config reload rejected"]
        assert errors[-1].startswith(reason), errors[-1]
        assert await key_status(server.url, SECRET) == 200

    # An editor saving in place, line by line: every prefix ending at a line is a valid config
    # without the `keys` section, which would lock every client out if it were taken.
    del data["keys"][1]  # the edit: bob's key is revoked
    keys = data.pop("keys")
    data["pricing"] = {f"model-{n}": {"input": 1.0, "output": 2.0} for n in range(50)}
    edited = dump(data) + dump({"keys": keys})
    statuses: list[int] = []
    writing = True

    async def keep_asking() -> None:
        while writing:
            statuses.append(await key_status(server.url, SECRET))

    asker = asyncio.create_task(keep_asking())
    with path.open("wb") as editor:  # truncates, as an in-place save does
        for line in edited.splitlines(keepends=True):
            editor.write(line)
            editor.flush()
            await asyncio.sleep(0.03)
    writing = False
    await asker
    assert len(statuses) > 20 and set(statuses) == {200}

    await server.wait_for_event("config reloaded")
    assert [e["error"] for e in server.events() if e["event"] == "config reload rejected"][len(bad_files) :] == []
    assert (await key_status(server.url, SECRET), await key_status(server.url, OTHER_SECRET)) == (200, 401)
    async with aiohttp.ClientSession() as session, session.get(server.url + "/health") as response:
        health = await response.json()
    assert health["config"]["digest"] == load_config(path, env=ENV).digest
