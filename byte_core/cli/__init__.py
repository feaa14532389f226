"""The `byte` command. Each area lives in its own module and registers its group here."""
from __future__ import annotations

from .base import cli
from . import db_commands, demo_commands, org_commands, up_command, user_commands, workflow_commands, intake_commands  # noqa: F401
from . import notify_commands  # noqa: F401


def main() -> None:
    try:
        cli(prog_name="byte")
    except KeyboardInterrupt:  # click turns Ctrl-C inside a command into Abort; this covers imports and start-up
        raise SystemExit(130) from None
