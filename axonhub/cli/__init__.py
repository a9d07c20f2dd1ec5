"""The `axonhub` command line: a click group whose subcommands are imported only when run.

The group itself imports no subcommand module, no config and touches no file, so `--help` and
`--version` answer at once and work everywhere, also with a broken config. Each subcommand is
named here with its module and one line of help; its module is imported when it runs (or when its
own `--help` is asked for). The async core is entered in one place: `serve`.
"""

from __future__ import annotations

import importlib

import click

from axonhub import __version__

# name -> (module, attribute, the one line `axonhub --help` shows)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("axonhub.cli.serve", "serve", "Run the gateway on the config file."),
    "run": ("axonhub.cli.run", "run", "Start Claude Code or Codex through AxonHub."),
    "env": ("axonhub.cli.run", "env", "Print the shell settings that point an agent at AxonHub."),
    "statusline": ("axonhub.cli.statusline", "statusline", "Claude Code's status line: what AxonHub serves."),
    "config": ("axonhub.cli.config_cmd", "config_group", "Find, create and check the config file."),
    "keys": ("axonhub.cli.keys", "keys_group", "Manage the API keys clients use to call AxonHub."),
    "profiles": ("axonhub.cli.profiles", "profiles_group", "Manage model profiles and test routing."),
    "channels": ("axonhub.cli.channels", "channels_group", "List, inspect and live-test the upstream channels."),
    "traces": ("axonhub.cli.traces", "traces_group", "Read the trace log: tail, list, show sessions."),
    "usage": ("axonhub.cli.traces", "usage", "Token totals and cost from the trace log."),
    "dashboard": ("axonhub.cli.dashboard", "dashboard", "Open the local dashboard (a one-time login link)."),
}
# group -> subcommands that live in another module: (module, attribute)
SUBCOMMANDS: dict[str, tuple[tuple[str, str], ...]] = {
    "traces": (("axonhub.cli.dashboard", "replay"),),
}


class LazyGroup(click.Group):
    """Imports a subcommand's module on first use; tracebacks only with --debug."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command: click.Command = getattr(importlib.import_module(module), attribute)
        for sub_module, sub_attribute in SUBCOMMANDS.get(cmd_name, ()):
            assert isinstance(command, click.Group)
            command.add_command(getattr(importlib.import_module(sub_module), sub_attribute))
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_line) for name, (_, _, help_line) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if ctx.meta.get("axonhub.debug"):
                raise
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="axonhub")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """AxonHub: a self-hosted AI gateway for Claude Code, Codex and any OpenAI/Anthropic SDK.

    \b
    Start here:
      axonhub keys create NAME    a key for your agents (saved for `axonhub run`)
      axonhub serve               run the gateway
      axonhub run claude          Claude Code through it
    """
    ctx.meta["axonhub.debug"] = debug
