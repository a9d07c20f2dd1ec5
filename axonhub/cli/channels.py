"""`axonhub channels list|show|test`: what each channel serves, whether it can, and a live check.

Availability has two views. The config says what a channel serves and which environment variable
holds its key; whether that variable is set, whether the channel is cooling down after failures
and whether its provider quota is exhausted, is the running gateway's business: `list` and `show`
ask it (`GET /health`) and fall back to this shell's environment, saying so, when it does not
answer. `test` sends one tiny request to the channel's upstream from here, exactly as the gateway
would send it (`axonhub.channel_check`), with the key from this shell's environment.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from axonhub import launcher
from axonhub.cli.common import config_option, echo_json, fail, json_option, load
from axonhub.cli.dashboard import admin_post, admin_token, gateway_url, url_option
from axonhub.cli.keys import echo_table
from axonhub.config import Channel, Config

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(name="channels", context_settings=CONTEXT)
def channels_group() -> None:
    """List, inspect and live-test the upstream channels."""


def live_state(config: Config) -> tuple[dict[str, dict[str, Any]], str]:
    """Per channel name, what the running gateway says about it; and where that view comes from."""
    root = launcher.base_url(config.server.host, config.server.port)
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=2.0) as response:  # noqa: S310 - http only
            health = json.load(response)
        return {str(c["name"]): c for c in health.get("channels") or []}, f"the gateway at {root}"
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}, f"this shell's environment (no gateway answers at {root}; cool-downs unknown)"


def channel_summary(channel: Channel, live: dict[str, Any] | None) -> dict[str, Any]:
    reason = live.get("reason") if live is not None else channel.unavailable_reason
    cooldown = float(live.get("cooldown_s") or 0) if live is not None else None
    exhausted = live.get("quota_exhausted_until") if live is not None else None
    if reason:
        state = "unavailable"
    elif exhausted:
        state = f"quota exhausted until {exhausted}"
    elif cooldown:
        state = f"cooling down {cooldown:g}s"
    else:
        state = "available"
    return {
        "name": channel.name,
        "type": channel.type,
        "base_url": channel.base_url,
        "models": channel.models.describe(),
        "aliases": dict(channel.aliases),
        "priority": channel.priority,
        "weight": channel.weight,
        "enabled": channel.enabled,
        "api_key_env": channel.api_key_env,
        "state": state,
        "reason": reason,
        "failures": live.get("failures") if live is not None else None,
        "cooldown_s": cooldown,
        "quota_exhausted_until": exhausted,
    }


def get_channel(config: Config, name: str) -> Channel:
    channel = next((c for c in config.channels if c.name == name), None)
    if channel is None:
        raise fail(f"no channel named '{name}' (channels: {', '.join(c.name for c in config.channels) or 'none'})")
    return channel


@channels_group.command("list")
@config_option
@json_option
def list_channels(config_path: Path, as_json: bool) -> None:
    """Every channel: its type, what it serves, whether it can serve now."""
    config = load(config_path)
    live, source = live_state(config)
    summaries = [channel_summary(c, live.get(c.name) if live else None) for c in config.channels]
    if as_json:
        echo_json({"source": source, "channels": summaries})
        return
    rows: list[tuple[str, ...]] = [("NAME", "TYPE", "STATE", "PRIORITY", "MODELS")]
    rows += [(s["name"], s["type"], s["state"], str(s["priority"]), ", ".join(s["models"])) for s in summaries]
    echo_table(rows)
    for s in summaries:
        if s["reason"]:
            click.echo(f"{s['name']}: {s['reason']}", err=True)
    click.echo(f"(state as seen by {source})", err=True)


@channels_group.command("show")
@click.argument("name")
@config_option
@json_option
def show(name: str, config_path: Path, as_json: bool) -> None:
    """One channel in full, and the profile rules that send requests to it."""
    config = load(config_path)
    channel = get_channel(config, name)
    live, source = live_state(config)
    summary = channel_summary(channel, live.get(name) if live else None)
    summary["routed_by"] = routed_by(config, channel)
    summary["state_source"] = source
    if as_json:
        echo_json(summary)
        return
    lines = [
        ("channel", f"{channel.name} ({channel.type}{'' if channel.enabled else ', disabled'})"),
        ("base url", channel.base_url),
        ("key", f"${{{channel.api_key_env}}}" if channel.api_key_env else "none"),
        ("models", ", ".join(summary["models"])),
        *([("aliases", ", ".join(f"{k} -> {v}" for k, v in channel.aliases.items()))] if channel.aliases else []),
        ("priority", f"{channel.priority} (weight {channel.weight})"),
        ("state", summary["state"] + (f": {summary['reason']}" if summary["reason"] else "")),
        ("seen by", source),
    ]
    lines += [("routed by", rule) for rule in summary["routed_by"]] or [("routed by", "no profile rule")]
    for label, value in lines:
        click.echo(f"{label:10} {value}")


@channels_group.command("reset")
@click.argument("name")
@url_option
@config_option
@json_option
def reset(name: str, url: str | None, config_path: Path, as_json: bool) -> None:
    """Make the running gateway try a channel again now: forget its cool-down and its exhausted-quota
    mark (a 429 taken for a spent quota skips a channel until the reset the provider gave).

    With Redis the mark is cleared for every instance within 5 s. Without it, each `serve --workers`
    process keeps its own marks and this reaches one of them: restart the gateway to clear them all.
    """
    config = load(config_path)
    get_channel(config, name)
    if not config.server.dashboard.enabled:
        raise fail("the admin API comes with the dashboard, which this config turns off (server.dashboard.enabled)")
    path = f"/dashboard/api/channels/{urllib.parse.quote(name, safe='')}/reset"
    with admin_post(gateway_url(config, url), admin_token(config), path, {}, "reset refused") as response:
        result = json.load(response)
    if as_json:
        echo_json(result)
        return
    cleared = []
    if result.get("was_quota_exhausted_until"):
        cleared.append(f"its quota mark (exhausted until {result['was_quota_exhausted_until']})")
    if result.get("was_cooling_down_s"):
        cleared.append(f"its cool-down ({result['was_cooling_down_s']:g}s left)")
    if cleared:
        click.echo(f"channel '{name}': cleared {' and '.join(cleared)}; the next request tries it")
    else:
        click.echo(f"channel '{name}': nothing to clear, the gateway was already trying it")
    if not result.get("shared_state_cleared", True):
        click.echo("warning: the limits state (Redis) cannot be reached: cleared on one instance only", err=True)


def routed_by(config: Config, channel: Channel) -> list[str]:
    """The profile rules whose target this channel serves."""
    return [
        f"profiles.{profile.name} rule {number}: {rule.describe()}"
        for profile in config.profiles.values()
        for number, rule in enumerate(profile.rules, start=1)
        if channel.models.matches(rule.model)
    ]


@channels_group.command("test")
@click.argument("name")
@click.option("--model", metavar="MODEL", help="The model to ask (default: the channel's first named model).")
@config_option
@json_option
def test(name: str, model: str | None, config_path: Path, as_json: bool) -> None:
    """Send one tiny request to the channel's upstream, as the gateway would; exit 1 if it fails."""
    from axonhub.channel_check import check_channel

    config = load(config_path)
    channel = get_channel(config, name)
    if channel.unavailable_reason:
        raise fail(f"cannot test from here: {channel.unavailable_reason} (in this shell)")
    model = model or next(iter(sorted(channel.models.exact)), None)
    if model is None:
        raise fail(f"channel '{name}' serves models by pattern only; name one with --model MODEL")
    result = asyncio.run(check_channel(channel, model))
    if as_json:
        echo_json(
            {
                "channel": name,
                "ok": result.ok,
                "status": result.status,
                "latency_ms": round(result.latency_ms, 1),
                "url": result.url,
                "upstream_model": result.upstream_model,
                "answer": result.answer,
                "usage": {"input": result.usage.input_total, "output": result.usage.output} if result.usage else None,
                "error": result.error,
            }
        )
    elif result.ok:
        usage = f", in {result.usage.input_total} out {result.usage.output} tokens" if result.usage else ""
        click.echo(
            f"{name}: ok, HTTP {result.status} in {result.latency_ms:.0f} ms from {result.url}\n"
            f"{result.upstream_model} answered {result.answer!r}{usage}"
        )
    else:
        click.echo(f"{name}: failed in {result.latency_ms:.0f} ms ({result.url}): {result.error}", err=True)
    if not result.ok:
        raise SystemExit(1)
