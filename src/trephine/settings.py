"""Runtime settings, read from the environment (prefix ``TREPHINE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_FILE = Path("trephine.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TREPHINE_", extra="ignore")

    #: SQLAlchemy URL. The default is an embedded SQLite file in the working directory.
    database_url: str = f"sqlite:///{DEFAULT_DATABASE_FILE}"
    #: Who the CLI acts as in audit events when no user is signed in.
    cli_user: str = "cli"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
