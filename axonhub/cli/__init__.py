"""The `axonhub` command line: a click group whose subcommands load the config only when run.

The group itself imports no config and touches no file, so `--help` works everywhere, also with a
broken config. The async core is entered in one place: `serve`.
"""

from __future__ import annotations

import click

from axonhub import __version__
from axonhub.cli.config_cmd import config_group
from axonhub.cli.dashboard import dashboard, replay
from axonhub.cli.keys import keys_group
from axonhub.cli.profiles import profiles_group
from axonhub.cli.serve import serve
from axonhub.cli.traces import traces_group, usage


class _Group(click.Group):
    """Shows tracebacks only with --debug; every other failure is one line and exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if ctx.meta.get("axonhub.debug"):
                raise
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="axonhub")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """AxonHub: a self-hosted AI gateway for Claude Code, Codex and any OpenAI/Anthropic SDK."""
    ctx.meta["axonhub.debug"] = debug


main.add_command(serve)
main.add_command(config_group)
main.add_command(keys_group)
main.add_command(profiles_group)
main.add_command(traces_group)
traces_group.add_command(replay)
main.add_command(dashboard)
main.add_command(usage)
