"""Quota exhaustion versus a burst 429, from real providers' wording and headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from axonhub.limits.quota import QUOTA_UNKNOWN_S, parse_duration, quota_reset

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 5, 2, tzinfo=UTC).timestamp()
NEXT_MONTH = datetime(2026, 6, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360), ("1h2m3.5s", 3723.5), ("20ms", 0.02), ("45 seconds", 45), ("2 hours and 3 minutes", 7380)],
)
def test_durations_in_the_forms_providers_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("message", "headers", "reset"),
    [
        # OpenAI, requests per day, with its reset header
        (
            "Rate limit reached for gpt-4o in organization org-x on requests per day (RPD): Limit 200, Used 200",
            {"x-ratelimit-reset-requests": "11h59m59s"},
            NOW + 11 * 3600 + 59 * 60 + 59,
        ),
        # a coding plan's 5-hour window, reset given with an offset
        ("Usage limit reached for 5 hour. Your limit will reset at 2026-05-01T16:30:00+00:00", {}, NOW + 4.5 * 3600),
        # a coding plan's window without a usable time (no offset): its period
        ("Usage limit reached for 5 hour. Your limit will reset at 2026-05-01 22:05:28", {}, NOW + 5 * 3600),
        # Gemini free tier per day
        (
            "Quota exceeded for metric: generate_content_free_tier_requests, quotaId: GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            {},
            MIDNIGHT,
        ),
        # monthly budget
        ("You have reached your monthly spending limit", {}, NEXT_MONTH),
        # OpenRouter's free-models-per-day with an epoch-milliseconds reset header
        ("Rate limit exceeded: free-models-per-day", {"X-RateLimit-Reset": str(int((NOW + 7200) * 1000))}, NOW + 7200),
        # a Claude subscription's unified reset (epoch seconds)
        (
            "This request would exceed your account's rate limit",
            {"anthropic-ratelimit-unified-reset": str(int(NOW + 9000))},
            NOW + 9000,
        ),
        # a long Retry-After says quota whatever the words
        ("Too many requests", {"Retry-After": "7200"}, NOW + 7200),
        # quota words and no time at all
        ("You exceeded your current quota, please check your plan and billing details.", {}, NOW + QUOTA_UNKNOWN_S),
    ],
)
def test_an_exhausted_quota_is_skipped_until_its_reset(message: str, headers: dict[str, str], reset: float) -> None:
    assert quota_reset(message, headers, NOW) == pytest.approx(reset)


@pytest.mark.parametrize(
    ("message", "headers"),
    [
        ("Rate limit reached for requests per minute. Please try again in 20s.", {}),
        ("rate_limit_error: Number of request tokens has exceeded your per-minute rate limit", {"retry-after": "12"}),
        ("Quota exceeded for metric: requests per minute. Please retry in 38.5s.", {}),
        ("Too many requests", {}),
        ("overloaded", {"retry-after-ms": "1500"}),
    ],
)
def test_a_burst_limit_is_not_a_quota(message: str, headers: dict[str, str]) -> None:
    assert quota_reset(message, headers, NOW) is None
