"""The trace record's list of model-call kinds is the format registry's: every endpoint that generates."""

from __future__ import annotations

from axonhub.formats.registry import FORMATS
from axonhub.trace_record import MODEL_CALLS


def test_the_model_call_kinds_are_the_generating_endpoints_of_every_format() -> None:
    generating = {endpoint.kind for fmt in FORMATS.values() for endpoint in fmt.endpoints if not endpoint.counts}
    assert set(MODEL_CALLS) == generating
    assert "count_tokens" not in MODEL_CALLS
