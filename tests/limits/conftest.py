"""Fixtures for the limits tests: each state backend in turn (Redis on a real redis-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from axonhub.limits.state import MemoryState, StateBackend
from tests.redis_server import RedisServer


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateBackend]:
    """Each backend in turn: the contract is the same."""
    if request.param == "memory":
        yield MemoryState()
        return
    from axonhub.limits.redis_state import RedisState

    server = RedisServer(tmp_path / "redis")
    server.start()
    state = RedisState(server.url, prefix="test:")
    try:
        yield state
    finally:
        await state.close()
        server.stop()
