"""Configuration: a plain value read from the environment. Reading it does no I/O."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # An existing PostgreSQL; when None, an embedded server runs under data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".marketplace")
    # HMAC key for API keys; when None in embedded mode it is generated into data_dir.
    secret: str | None = None
    # POST /registrations: at most this many per client per window
    registration_limit: int = 10
    registration_window: dt.timedelta = dt.timedelta(hours=1)
    # a stored match run keeps this many ranked providers (with explanations) and excluded ones (with reasons)
    match_store_limit: int = 500
    match_excluded_limit: int = 200
    pool_min_size: int = 2
    pool_max_size: int = 10
    schema_dir: Path = PROJECT_ROOT / "schema"
    seed_dir: Path = PROJECT_ROOT / "seed_data"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("MARKETPLACE_DATA_DIR") or ".marketplace"),
            secret=env.get("MARKETPLACE_SECRET") or None,
            registration_limit=int(env.get("MARKETPLACE_REGISTRATION_LIMIT", "10")),
            pool_min_size=int(env.get("MARKETPLACE_POOL_MIN", "2")),
            pool_max_size=int(env.get("MARKETPLACE_POOL_MAX", "10")),
            seed_dir=Path(env["MARKETPLACE_SEED_DIR"]) if env.get("MARKETPLACE_SEED_DIR") else PROJECT_ROOT / "seed_data",
        )
