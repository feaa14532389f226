"""Where BYTE keeps its data and which database it talks to, read from the environment once."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_ROLE = "byte_app"


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "byte-dashboard"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None  # owner connection; None means the embedded server
    app_database_url: str | None  # optional separate login for the app role

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("BYTE_DATA_DIR") or default_data_dir()).expanduser().resolve()
    return Settings(
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        app_database_url=os.environ.get("BYTE_APP_DATABASE_URL") or None,
    )
