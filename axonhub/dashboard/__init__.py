"""The local dashboard served by `axonhub serve` at /dashboard/, and replays of recorded requests.

    access.py    the admin token, signed sessions, one-time login links, the replay identity
    index.py     the trace log indexed in a background thread, memory bounded
    queries.py   sessions, timelines, usage, latency and channels, computed from the index
    charts.py    server-rendered SVG charts
    live.py      server-sent events as trace records are written
    answers.py   an answer's text, tool calls, stop reason and usage, for comparing two answers
    replay.py    re-sending recorded requests through the gateway under another profile
    app.py       the aiohttp sub-app: pages, data APIs, static assets (no build step, no CDN)

Nothing here is imported by the request path except `access` (the replay identity).
"""
