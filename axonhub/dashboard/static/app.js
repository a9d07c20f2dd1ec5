// AxonHub dashboard: a small single-page app over the /dashboard/api/ endpoints.
// No framework and no build step; every value is put into the page as text, never as HTML.
"use strict";

const API = "/dashboard/api";
const RANGES = ["1h", "6h", "24h", "7d", "30d", "all"];
const state = { facets: null, route: null, refreshers: [], liveTimer: null };

// ------------------------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJSON(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (response.status === 401) { window.location.href = "/dashboard/login"; throw new Error("signed out"); }
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function getSVG(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  const text = await response.text();
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  return document.importNode(doc.documentElement, true);
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") search.set(name, value);
  const text = search.toString();
  return text ? "?" + text : "";
}

const fmt = {
  int: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
  tokens: (n) => {
    if (n === null || n === undefined) return "–";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  },
  cost: (c) => {
    if (c === null || c === undefined) return "–";
    const size = Math.abs(c);
    return (c < 0 ? "-$" : "$") + (size >= 1 ? size.toFixed(2) : size >= 0.01 || size === 0 ? size.toFixed(4) : size.toFixed(6));
  },
  ms: (ms) => (ms === null || ms === undefined ? "–" : ms >= 10000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms"),
  pct: (x) => (x === null || x === undefined ? "–" : Math.round(x * 100) + "%"),
  time: (iso) => {
    if (!iso) return "–";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  },
};

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function select(name, options, value, onchange, label) {
  const node = h("select", { name, onchange: (e) => onchange(e.target.value) },
    options.map((o) => {
      const [val, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: val, selected: val === value }, text);
    }));
  return label ? h("label", {}, label + " ", node) : node;
}

function tokenCell(tokens) {
  if (!tokens) return "–";
  const cached = (tokens.cache_read || 0) + (tokens.cache_write || 0);
  return `${fmt.tokens(tokens.input)} / ${fmt.tokens(tokens.output)}` + (cached ? ` / ${fmt.tokens(tokens.cache_read)}` : "");
}

function showError(error) {
  document.getElementById("view").replaceChildren(h("p", { className: "error" }, String(error.message || error)));
}

// ------------------------------------------------------------------------------------ status, facets, live

async function loadStatus() {
  try {
    const status = await getJSON("/status");
    const index = status.index;
    const box = document.getElementById("status");
    const parts = [];
    if (index.state === "building") {
      const pct = index.bytes_total ? Math.round((100 * index.bytes_done) / index.bytes_total) : 0;
      parts.push(h("span", { className: "badge warn" }, `indexing the trace log… ${pct}%`));
    }
    parts.push(h("span", {}, `${fmt.int(index.records)} exchanges in ${fmt.int(index.sessions)} sessions`));
    if (index.damaged_lines) parts.push(h("span", { className: "badge warn", "data-damaged": index.damaged_lines }, `${index.damaged_lines} damaged lines skipped`));
    if (index.skipped_lines) parts.push(h("span", { className: "badge" }, `${fmt.int(index.skipped_lines)} oldest lines not indexed`));
    parts.push(h("span", { className: "muted" }, `trace bodies: ${status.trace.bodies}`));
    box.replaceChildren(...parts);
  } catch (error) { /* the next event retries */ }
}

async function loadFacets() {
  state.facets = await getJSON("/facets");
  return state.facets;
}

function connectLive() {
  const live = document.getElementById("live");
  const source = new EventSource(API + "/events");
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "live off"; });
  source.addEventListener("record", (event) => {
    const record = JSON.parse(event.data);
    for (const refresh of state.refreshers) refresh(record);
    scheduleStatus();
  });
  const reloadAll = () => { loadFacets().then(() => route()).catch(showError); loadStatus(); };
  source.addEventListener("config", reloadAll);
  source.addEventListener("index", reloadAll);
  source.addEventListener("resync", reloadAll);
}

const scheduleStatus = debounce(loadStatus, 1000);

// ------------------------------------------------------------------------------------ sessions

function sessionsView(params) {
  const facets = state.facets;
  const filters = {
    key: params.get("key") || "", model: params.get("model") || "", channel: params.get("channel") || "",
    since: params.get("since") || "", q: params.get("q") || "",
  };
  const apply = (changes) => { location.hash = "#/sessions" + query({ ...filters, ...changes }); };
  const body = h("tbody");
  const total = h("span", { className: "muted" });
  const more = h("button", { type: "button", className: "quiet", hidden: true }, "Load more");
  let cursor = null;
  let loaded = false;
  const seen = new Map();

  async function load(reset) {
    const data = await getJSON("/sessions" + query({ ...filters, since: filters.since ? filters.since : "", cursor: reset ? "" : cursor, limit: 50 }));
    if (reset) body.replaceChildren();
    for (const row of data.sessions) {
      // highlight what is new or changed since this page last showed it (nothing on the first load)
      const previous = loaded && reset ? seen.get(row.trace_id) : row;
      body.append(sessionRow(row, previous));
      seen.set(row.trace_id, row);
    }
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 10, className: "muted" }, "No sessions match.")));
    loaded = true;
    cursor = data.next;
    more.hidden = data.next === null;
    total.textContent = `${fmt.int(data.total)} sessions`;
  }
  more.addEventListener("click", () => load(false).catch(showError));

  const search = h("input", { type: "search", name: "q", placeholder: "session or request id", value: filters.q });
  const form = h("form", { className: "filters", onsubmit: (e) => { e.preventDefault(); apply({ q: search.value.trim() }); } },
    select("key", [["", "all keys"], ...facets.keys], filters.key, (v) => apply({ key: v })),
    select("model", [["", "all models"], ...facets.models], filters.model, (v) => apply({ model: v })),
    select("channel", [["", "all channels"], ...facets.channels], filters.channel, (v) => apply({ channel: v })),
    select("since", [["", "any time"], ["1h", "last hour"], ["24h", "last day"], ["7d", "last 7 days"], ["30d", "last 30 days"]], filters.since, (v) => apply({ since: v })),
    search, h("button", { type: "submit" }, "Search"), total);

  const table = h("table", { className: "sessions" },
    h("thead", {}, h("tr", {}, ["Session", "Client", "Key", "First seen", "Last seen", "Requests", "Tokens in / out / cached", "Cost", "Errors", "Models"].map((t) => h("th", {}, t)))),
    body);
  document.getElementById("view").replaceChildren(h("h1", {}, "Sessions"), form, table, more);

  const refresh = debounce(() => load(true).catch(showError), 400);
  state.refreshers.push((record) => { if (!record.replay_of) refresh(); });
  return load(true);
}

function sessionRow(row, previous) {
  const fresh = !previous || previous.requests !== row.requests;
  return h("tr", { "data-trace-id": row.trace_id, className: fresh ? "fresh" : "" },
    h("td", {}, h("a", { href: "#/session/" + encodeURIComponent(row.trace_id), className: "mono" }, row.trace_id.length > 18 ? row.trace_id.slice(0, 18) + "…" : row.trace_id)),
    h("td", {}, row.client || "–"),
    h("td", {}, row.key || "–"),
    h("td", {}, fmt.time(row.first)),
    h("td", {}, fmt.time(row.last)),
    h("td", { className: "num" }, fmt.int(row.requests)),
    h("td", { className: "num" }, tokenCell(row.tokens)),
    h("td", { className: "num" }, fmt.cost(row.cost_usd)),
    h("td", { className: row.errors ? "num bad" : "num" }, fmt.int(row.errors)),
    h("td", { className: "small" }, (row.models || []).join(", ")));
}

// ------------------------------------------------------------------------------------ a session's timeline

async function sessionView(traceId) {
  const view = document.getElementById("view");
  const data = await getJSON("/sessions/" + encodeURIComponent(traceId));
  const s = data.session;
  const profiles = state.facets.profiles;
  const replayProfile = select("profile", profiles, profiles[0], () => {});
  const replayOut = h("div", { className: "replay-out" });
  const replayButton = h("button", { type: "button", onclick: () => runReplay({ session: traceId, profile: replayProfile.value }, replayOut) }, "Replay the session");

  const summary = h("dl", { className: "summary" },
    ...[["Client", s.client || "–"], ["Key", s.key || "–"], ["First seen", fmt.time(s.first)], ["Last seen", fmt.time(s.last)],
      ["Requests", fmt.int(s.requests)], ["Errors", fmt.int(s.errors)], ["Tokens in / out / cached", tokenCell(s.tokens)], ["Cost", fmt.cost(s.cost_usd)]]
      .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));

  const maxTotal = Math.max(1, ...data.requests.map((r) => (r.timings && r.timings.total_ms) || 0));
  const body = h("tbody");
  for (const r of data.requests) body.append(...timelineRows(r, maxTotal));
  const table = h("table", { className: "timeline" },
    h("thead", {}, h("tr", {}, ["+s", "Request", "Profile", "Status", "Latency (gateway | upstream)", "Tokens in / out / cached", "Cost"].map((t) => h("th", {}, t)))),
    body);
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/sessions" }, "← Sessions")),
    h("h1", { className: "mono" }, traceId), summary,
    h("div", { className: "replay-bar" }, "Replay every model call of this session under profile ", replayProfile, " ", replayButton),
    replayOut,
    h("p", { className: "muted" }, `${data.requests.length} of ${data.total} requests` + (data.unreadable ? `, ${data.unreadable} could not be read back` : "")),
    table);
  const refresh = debounce(() => sessionView(traceId).catch(showError), 400);
  state.refreshers.push((record) => { if (record.trace_id === traceId) refresh(); });
}

function timelineRows(r, maxTotal) {
  const t = r.timings || {};
  const total = t.total_ms || 0;
  const upstream = Math.min(t.upstream_ms || 0, total);
  const gateway = Math.max(total - upstream, 0);
  const bar = h("div", { className: "bar", title: `gateway ${fmt.ms(gateway)}, upstream ${fmt.ms(upstream)}` },
    h("span", { className: "gw", style: null }), h("span", { className: "up" }));
  bar.children[0].style.width = (100 * gateway) / maxTotal + "%";
  bar.children[1].style.width = (100 * upstream) / maxTotal + "%";
  const route = (r.resolved_model && r.resolved_model !== r.requested_model)
    ? `${r.requested_model} → ${r.resolved_model}` : (r.requested_model || "–");
  const isError = r.error || (r.status >= 400);
  const detail = h("tr", { className: "detail", hidden: true }, h("td", { colspan: 7 }));
  const row = h("tr", { "data-request-id": r.request_id, className: "req" + (isError ? " err" : ""), tabindex: 0 },
    h("td", { className: "num" }, "+" + (r.offset_s || 0).toFixed(1)),
    h("td", {}, r.kind && r.kind !== "messages" ? h("span", { className: "badge" }, r.kind) : null, " ", route,
      r.channel ? h("span", { className: "muted" }, " @ " + r.channel) : null,
      r.replays ? h("span", { className: "badge" }, `${r.replays} replay${r.replays > 1 ? "s" : ""}`) : null),
    h("td", {}, r.profile ? `${r.profile}` + (r.rule !== null && r.rule !== undefined ? ` #${r.rule + 1}` : "") : "–"),
    h("td", { className: isError ? "bad" : "" }, String(r.status), r.stop_reason ? h("span", { className: "muted" }, " " + r.stop_reason) : null),
    h("td", {}, bar, h("span", { className: "small muted" }, fmt.ms(total))),
    h("td", { className: "num" }, tokenCell(r.usage)),
    h("td", { className: "num" }, fmt.cost(r.cost_usd)));
  const toggle = () => {
    detail.hidden = !detail.hidden;
    if (!detail.hidden && !detail.dataset.loaded) {
      detail.dataset.loaded = "1";
      requestDetail(r.request_id, detail.firstChild).catch((e) => detail.firstChild.replaceChildren(String(e.message)));
    }
  };
  row.addEventListener("click", toggle);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
  return [row, detail];
}

async function requestDetail(requestId, cell) {
  const data = await getJSON("/requests/" + encodeURIComponent(requestId));
  const r = data.request;
  const attempts = h("table", { className: "attempts" },
    h("thead", {}, h("tr", {}, ["#", "Channel", "Upstream model", "Status", "Latency", "Error"].map((t) => h("th", {}, t)))),
    h("tbody", {}, (r.attempts || []).map((a, i) => h("tr", { className: a.error ? "err" : "" },
      h("td", {}, i + 1), h("td", {}, a.channel), h("td", {}, a.upstream_model), h("td", {}, String(a.status)),
      h("td", { className: "num" }, fmt.ms(a.latency_ms)), h("td", { className: "small" }, a.error || "")))));
  const bodies = [];
  for (const name of ["request_body", "response_body"]) {
    if (r[name] !== undefined) bodies.push(h("details", { className: "body" }, h("summary", {}, name.replace("_", " ") + " (redacted)"), h("pre", {}, JSON.stringify(r[name], null, 2))));
  }
  if (!bodies.length) bodies.push(h("p", { className: "muted" }, "Bodies were not recorded (server.trace.bodies: all records them)."));
  const out = h("div", { className: "replay-out" });
  let replay;
  if (data.replayable) {
    const profiles = state.facets.profiles.filter((p) => p !== r.profile);
    const profile = select("profile", profiles.length ? profiles : state.facets.profiles, (profiles[0] || state.facets.profiles[0]), () => {});
    const keys = state.facets.config_keys.map((k) => k.name);
    const key = select("key", keys, keys.includes(r.key) ? r.key : keys[0], () => {});
    replay = h("div", { className: "replay-bar" }, "Replay under profile ", profile, " as key ", key, " ",
      h("button", { type: "button", className: "replay", onclick: () => runReplay({ request_id: requestId, profile: profile.value, key: key.value }, out) }, "Replay"));
  } else {
    replay = h("p", { className: "muted" }, "Not replayable: " + data.not_replayable_because);
  }
  const earlier = data.replays.length
    ? h("p", { className: "small" }, "Earlier replays: ", data.replays.map((x) => `${x.profile} → ${x.resolved_model} @ ${x.channel} (${x.status}, ${fmt.ms(x.timings && x.timings.total_ms)})`).join("; "))
    : null;
  const error = r.error ? h("p", { className: "bad" }, `${r.error.type}: ${r.error.message}`) : null;
  cell.replaceChildren(h("div", { className: "request-detail" },
    h("p", { className: "small mono" }, `${r.request_id} · ${r.client_format} ${r.method} ${r.path} · ${r.user_agent || ""}`),
    error, h("h3", {}, "Upstream attempts"), attempts, ...bodies, replay, earlier, out));
}

// ------------------------------------------------------------------------------------ replay

async function runReplay(body, out) {
  out.replaceChildren(h("p", { className: "muted" }, "Replaying…"));
  const response = await fetch(API + "/replay", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({ error: response.statusText }));
    out.replaceChildren(h("p", { className: "bad" }, data.error || "replay failed"));
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const pairs = h("div", { className: "pairs" });
  out.replaceChildren(pairs);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      if (line.type === "start") pairs.append(h("p", { className: "muted" }, `Replay ${line.trace_id}: ${line.requests} request(s) under profile ${line.profile} as key ${line.key}`));
      if (line.type === "pair") pairs.append(comparePair(line));
      if (line.type === "done") pairs.append(replayTotals(line.totals));
    }
  }
}

function answerColumn(title, a) {
  const calls = (a.tool_calls || []).map((c) => h("div", { className: "tool-call" }, h("b", {}, c.name), h("pre", {}, JSON.stringify(c.arguments, null, 2))));
  const usage = a.usage ? `in ${fmt.int(a.usage.input)} · out ${fmt.int(a.usage.output)} · cache read ${fmt.int(a.usage.cache_read)}` : "no usage";
  return h("div", { className: "answer" },
    h("h4", {}, title),
    h("p", { className: "small" }, `${a.profile || "no profile"} → ${a.resolved_model || "–"} @ ${a.channel || "–"}`),
    h("p", {}, h("span", { className: a.status >= 400 ? "bad" : "" }, `status ${a.status}`), ` · stop ${a.stop_reason || "–"}`),
    h("p", { className: "small" }, usage),
    h("p", { className: "small" }, `latency ${fmt.ms(a.latency_ms)} (first byte ${fmt.ms(a.ttfb_ms)}) · cost ${fmt.cost(a.cost_usd)}`),
    a.error ? h("p", { className: "bad small" }, `${a.error.type}: ${a.error.message}`) : null,
    a.note ? h("p", { className: "muted small" }, a.note) : null,
    a.text ? h("pre", { className: "answer-text" }, a.text) : null,
    calls.length ? h("div", { className: "tool-calls" }, h("p", { className: "small" }, "tool calls"), calls) : null);
}

function comparePair(line) {
  const d = line.difference;
  const diff = `Δ tokens in ${d.input ?? "–"}, out ${d.output ?? "–"} · Δ latency ${d.latency_ms === null ? "–" : fmt.ms(d.latency_ms)} · Δ cost ${d.cost_usd === null ? "–" : fmt.cost(d.cost_usd)}`;
  return h("section", { className: "compare", "data-index": line.index },
    h("p", { className: "small muted" }, `#${line.index + 1} · ${line.original.request_id} · ${diff}`),
    h("div", { className: "columns" }, answerColumn("Recorded answer", line.original), answerColumn("Replay", line.replay)));
}

function replayTotals(t) {
  const row = (name, side) => h("tr", {}, h("td", {}, name), h("td", { className: "num" }, fmt.int(side.input)), h("td", { className: "num" }, fmt.int(side.output)),
    h("td", { className: "num" }, fmt.int(side.cache_read)), h("td", { className: "num" }, fmt.ms(side.latency_ms)), h("td", { className: "num" }, fmt.cost(side.cost_usd)));
  return h("section", { className: "replay-totals" },
    h("h4", {}, `Totals over ${t.requests} request(s): same stop reason ${t.same_stop_reasons}, same tools ${t.same_tools}`),
    h("table", {}, h("thead", {}, h("tr", {}, ["", "Input", "Output", "Cache read", "Latency", "Cost"].map((x) => h("th", {}, x)))),
      h("tbody", {}, row("recorded", t.original), row("replay", t.replay),
        h("tr", {}, h("td", {}, "difference"), ...["input", "output", "cache_read"].map((n) => h("td", { className: "num" }, t.difference[n] ?? "–")),
          h("td", { className: "num" }, t.difference.latency_ms === null ? "–" : fmt.ms(t.difference.latency_ms)),
          h("td", { className: "num" }, t.difference.cost_usd === null ? "–" : fmt.cost(t.difference.cost_usd))))));
}

// ------------------------------------------------------------------------------------ usage, latency, channels

function controls(params, page, extra) {
  const current = Object.fromEntries(params.entries());
  const apply = (changes) => { location.hash = `#/${page}` + query({ ...current, ...changes }); };
  return h("form", { className: "filters", onsubmit: (e) => e.preventDefault() },
    select("range", RANGES, current.range || "24h", (v) => apply({ range: v }), "Range"),
    extra.map(([name, options, fallback, label]) => select(name, options, current[name] || fallback, (v) => apply({ [name]: v }), label)));
}

async function chartInto(container, path) {
  container.replaceChildren(await getSVG(path));
}

async function usageView(params) {
  const range = params.get("range") || "24h";
  const by = params.get("by") || "model";
  const charts = ["tokens", "cost", "requests", "cache"].map((metric) => h("div", { className: "chart-box", "data-chart": metric }));
  const table = h("div");
  document.getElementById("view").replaceChildren(h("h1", {}, "Usage"),
    controls(params, "usage", [["by", ["model", "channel", "key", "profile"], "model", "By"]]),
    h("p", { className: "muted small" }, "Model calls only: count_tokens estimates and replays are never usage. Cost from the config's pricing."),
    ...charts, table);
  async function load() {
    const q = query({ range, by });
    await Promise.all(charts.map((box) => chartInto(box, `/charts/usage.svg${q}&metric=${box.dataset.chart}`)));
    const data = await getJSON("/usage" + q);
    const rows = [...(data.groups || []), ...(data.total ? [data.total] : [])];
    table.replaceChildren(h("table", { className: "usage" },
      h("thead", {}, h("tr", {}, [by, "Requests", "Errors", "Input", "Output", "Cache read", "Cache write", "Cache-read share", "Cost"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((g) => h("tr", { className: g.name === "TOTAL" ? "total" : "" }, h("td", {}, g.name),
        ...[g.requests, g.errors, g.tokens.input, g.tokens.output, g.tokens.cache_read, g.tokens.cache_write].map((n) => h("td", { className: "num" }, fmt.int(n))),
        h("td", { className: "num" }, fmt.pct(g.cache_read_share)), h("td", { className: "num" }, fmt.cost(g.cost_usd)))))));
  }
  const refresh = debounce(() => load().catch(showError), 3000);
  state.refreshers.push(refresh);
  return load();
}

async function latencyView(params) {
  const range = params.get("range") || "24h";
  const by = params.get("by") || "channel";
  const pct = params.get("p") || "p95";
  const total = h("div", { className: "chart-box", "data-chart": "latency" });
  const ttfb = h("div", { className: "chart-box", "data-chart": "ttfb" });
  const table = h("div");
  document.getElementById("view").replaceChildren(h("h1", {}, "Latency"),
    controls(params, "latency", [["by", [["channel", "channel"], ["model", "model"], ["channel_model", "channel and model"]], "channel", "By"], ["p", ["p50", "p95", "p99"], "p95", "Percentile"]]),
    total, ttfb, table);
  async function load() {
    const q = query({ range, by });
    await chartInto(total, `/charts/latency.svg${q}&metric=${pct}`);
    await chartInto(ttfb, `/charts/latency.svg${q}&metric=ttfb_${pct}`);
    const data = await getJSON("/latency" + q);
    table.replaceChildren(h("table", { className: "latency" },
      h("thead", {}, h("tr", {}, [by.replace("_", " and "), "Calls", "p50", "p95", "p99", "TTFB p50", "TTFB p95", "TTFB p99"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.table.map((r) => h("tr", {}, h("td", {}, r.name), h("td", { className: "num" }, fmt.int(r.count)),
        ...["p50", "p95", "p99", "ttfb_p50", "ttfb_p95", "ttfb_p99"].map((k) => h("td", { className: "num" }, fmt.ms(r[k]))))))));
  }
  const refresh = debounce(() => load().catch(showError), 3000);
  state.refreshers.push(refresh);
  return load();
}

async function channelsView() {
  const data = await getJSON("/channels");
  const rate = (a) => (a.tries ? `${a.failed}/${a.tries} (${Math.round((100 * a.failed) / a.tries)}%)` : "–");
  const status = (c) => {
    if (!c.configured) return h("span", { className: "badge" }, "not in the config");
    if (!c.enabled) return h("span", { className: "badge" }, "disabled");
    if (!c.available) return h("span", { className: "badge bad", title: c.reason }, "unavailable");
    if (c.cooling_down_s > 0) return h("span", { className: "badge warn" }, `cooling down ${c.cooling_down_s}s`);
    return h("span", { className: "badge ok" }, "available");
  };
  document.getElementById("view").replaceChildren(h("h1", {}, "Channels"),
    h("table", { className: "channels" },
      h("thead", {}, h("tr", {}, ["Channel", "Type", "Status", "Serves", "Failed tries 1h", "24h", "All", "Model calls (errors)", "p50 / p95 (24h)", "Last used"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.channels.map((c) => h("tr", { "data-channel": c.name },
        h("td", {}, c.name), h("td", {}, c.type || "–"), h("td", {}, status(c), c.reason ? h("div", { className: "small muted" }, c.reason) : null),
        h("td", { className: "small" }, (c.models || []).join(", ")),
        h("td", { className: "num" }, rate(c.attempts["1h"])), h("td", { className: "num" }, rate(c.attempts["24h"])), h("td", { className: "num" }, rate(c.attempts.all)),
        h("td", { className: "num" }, `${fmt.int(c.requests.all.count)} (${fmt.int(c.requests.all.errors)})`),
        h("td", { className: "num" }, `${fmt.ms(c.latency_ms.p50)} / ${fmt.ms(c.latency_ms.p95)}`),
        h("td", {}, fmt.time(c.last_seen)))))));
  const refresh = debounce(() => channelsView().catch(showError), 3000);
  state.refreshers.push(refresh);
}

// ------------------------------------------------------------------------------------ routing

function route() {
  state.refreshers = [];
  const hash = location.hash.slice(1) || "/sessions";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  const page = parts[0] || "sessions";
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.nav === (page === "session" ? "sessions" : page));
  let loading;
  if (page === "session" && parts[1]) loading = sessionView(decodeURIComponent(parts.slice(1).join("/")));
  else if (page === "usage") loading = usageView(params);
  else if (page === "latency") loading = latencyView(params);
  else if (page === "channels") loading = channelsView();
  else loading = sessionsView(params);
  Promise.resolve(loading).catch(showError);
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  loadStatus();
  loadFacets().then(() => { route(); connectLive(); }).catch(showError);
});
