"""Reading a gateway's trace log from a test while the gateway still runs.

The trace writer is a thread that writes records in batches a few milliseconds after the answer
went out, so a test that reads the log right after its last request waits for the records it
expects instead of reading once.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any


async def trace_records(path: Path, at_least: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The log's records once there are `at_least` of them (an AssertionError after `timeout` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= at_least or loop.time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert len(lines) >= at_least, f"{len(lines)} trace records in {path}, {at_least} expected"
    return [json.loads(line) for line in lines]
