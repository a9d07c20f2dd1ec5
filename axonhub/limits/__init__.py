"""Per-key and per-channel limits, and the state (memory or Redis) their counters live in.

model.py        what a limit is: the config's frozen limits, windows and their reset times
admission.py    pure admission and settlement: which counters a request checks and moves
state.py        the state backend interface and the in-process (memory) backend
redis_state.py  the Redis backend: the same operations as atomic Lua scripts
gate.py         a channel's concurrency cap with its bounded FIFO wait queue
quota.py        telling a provider's exhausted quota (daily/monthly) from a burst 429
headers.py      the 429's Retry-After and the rate-limit headers each client's SDK reads
limiter.py      the glue the request path calls: admit a key, gate a channel, settle usage
usage.py        a key's current use of its limits, for `axonhub keys show`
"""
