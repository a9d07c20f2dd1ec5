"""The headers of a limit's 429: when to retry, and the rate-limit headers the client's SDK family reads.

Every format gets `retry-after` (whole seconds) and `retry-after-ms`, which both the anthropic and
openai SDKs honour, and `x-should-retry`: true when the limit frees up within a minute, false for a
daily or monthly limit, so an SDK does not burn its retries on a wait of hours. Anthropic clients
also get `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining,reset}` (reset
as RFC 3339), OpenAI clients `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a
duration such as `42s` or `3h2m1s`), for the limit that refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from axonhub.limits.admission import Exceeded
from axonhub.limits.model import Measure, utc_iso

SDK_RETRY_HORIZON_S: Final = 60

_ANTHROPIC_FAMILY: Final = {
    Measure.REQUESTS: "requests",
    Measure.INPUT_TOKENS: "input-tokens",
    Measure.OUTPUT_TOKENS: "output-tokens",
}
_OPENAI_FAMILY: Final = {
    Measure.REQUESTS: "requests",
    Measure.INPUT_TOKENS: "tokens",
    Measure.OUTPUT_TOKENS: "tokens",
}


def go_duration(seconds: float) -> str:
    """`42s`, `1m5s`, `3h2m1s`: the form OpenAI's reset headers use."""
    whole = max(int(seconds + 0.999), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    return text + f"{secs}s"


def _anthropic(exceeded: Exceeded, now: float) -> dict[str, str]:
    family = _ANTHROPIC_FAMILY.get(exceeded.measure) if exceeded.measure else None
    if family is None or exceeded.reset_at is None:
        return {}
    prefix = f"anthropic-ratelimit-{family}"
    return {
        f"{prefix}-limit": str(exceeded.limit),
        f"{prefix}-remaining": str(max(exceeded.limit - exceeded.used, 0)),
        f"{prefix}-reset": utc_iso(exceeded.reset_at),
    }


def _openai(exceeded: Exceeded, now: float) -> dict[str, str]:
    family = _OPENAI_FAMILY.get(exceeded.measure) if exceeded.measure else None
    if family is None or exceeded.reset_at is None:
        return {}
    return {
        f"x-ratelimit-limit-{family}": str(exceeded.limit),
        f"x-ratelimit-remaining-{family}": str(max(exceeded.limit - exceeded.used, 0)),
        f"x-ratelimit-reset-{family}": go_duration(exceeded.reset_at - now),
    }


# client wire format -> its SDK family's rate-limit headers
FAMILIES: Final[Mapping[str, Callable[[Exceeded, float], dict[str, str]]]] = {
    "anthropic": _anthropic,
    "openai_chat": _openai,
    "openai_responses": _openai,
}


def limit_headers(exceeded: Exceeded, client_format: str, now: float) -> dict[str, str]:
    """Every header of the 429 that `exceeded` answers a `client_format` client with."""
    retry_after = exceeded.retry_after(now)
    wait_ms = max(int(((exceeded.reset_at or now + 1) - now) * 1000), 1000)
    headers = {
        "retry-after": str(retry_after),
        "retry-after-ms": str(wait_ms),
        "x-should-retry": "true" if retry_after <= SDK_RETRY_HORIZON_S else "false",
    }
    family = FAMILIES.get(client_format)
    if family is not None:
        headers.update(family(exceeded, now))
    return headers
