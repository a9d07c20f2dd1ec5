"""The trace record's own fields as `Exchange.record()` makes them."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from axonhub.exchange import utc_millis


def test_the_record_time_is_datetimes_iso_form_to_the_millisecond() -> None:
    """Made once per second and completed per record: the same text `datetime` gives, also where the
    microseconds round up into the next second and before 1970."""
    now = time.time()
    moments = [now + random.uniform(-1e8, 1e8) for _ in range(20_000)]
    moments += [now // 1 + k / 1e6 for k in range(0, 1_000_000, 997)]
    moments += [0.0, 0.0005, 1.9995, 1.9999996, 1764520446.4995, 1764520446.9999995, -0.0004, -1.5]
    for moment in moments:
        assert utc_millis(moment) == datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds"), moment
