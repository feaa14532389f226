"""The `byte` command. Each area lives in its own module and registers its group here."""
from __future__ import annotations

from .base import cli
from . import db_commands, demo_commands, org_commands, up_command, user_commands, workflow_commands, intake_commands  # noqa: F401
from . import notify_commands  # noqa: F401


def main() -> None:
    cli(prog_name="byte")
