"""Configuration: a plain value, decoded from the environment once. Reading it does no I/O.

Each setting's default is written once, on its field; `ENVIRONMENT` names the variable that may set it.
A value that does not decode (`MARKETPLACE_POOL_MAX=many`) is a `SettingsError` naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str | None = None
    """An existing PostgreSQL, as the API's own role (not a superuser, owning nothing: see schema/0008);
    when None, an embedded server runs under data_dir and the API connects to it as marketplace_app."""
    owner_database_url: str | None = None
    """The same database as the role that owns its tables: migrations and seeding run as it. When None, as
    database_url's role (then `serve` refuses to start if that role could rewrite the append-only history)."""
    data_dir: Path = Path(".marketplace")
    secret: str | None = None
    """HMAC key for API keys; when None it is generated once into data_dir."""
    registration_limit: int = 10
    """POST /registrations: at most this many per client per window."""
    registration_window: dt.timedelta = dt.timedelta(hours=1)
    denial_limit: int = 30
    """Denied requests (401, 403) per client per minute, in each worker, before the client's requests that present
    a credential are refused (429) until the minute ends."""
    expensive_limit: int = 20
    """Match runs, partnership proposals, reports and exports per API key per minute, in each worker; beyond it 429."""
    anonymous_expensive_limit: int = 10
    """Exports without an API key per client address per minute, in each worker; beyond it 429. Lower than a key's:
    many people may share one address (an office, a proxy), and a key has a limit of its own."""
    audit_retention_months: int = 84
    """`marketplace audit-partitions --drop-expired` drops the audit log's months that ended longer ago than this."""
    match_store_limit: int = 500
    """A stored match run made for a report keeps this many ranked providers (with explanations)."""
    match_excluded_limit: int = 200
    """... and this many excluded providers by name (counts by reason are always complete)."""
    match_slots: int = 2
    """Match runs ranking at once per worker process (the others wait, holding no connection)."""
    match_split_from: int = 20_000
    """A directory of at least this many published providers (when a worker loads it) is kept in two parts, and each
    worker forks a helper process that ranks one part while the worker ranks the other: one match run uses two cores
    (on a machine with one, never). Set it above the directory's size to rank in one process."""
    base_url: str | None = None
    """The address clients reach the API at (`https://provision.example.org`, or with a path a proxy strips), for the
    links the API writes into bodies (reconciliation, HSDS) and for marking the console's cookies Secure (when it is
    https). When None, links follow each request's own Host and scheme, and so does the Secure flag: behind a proxy
    that ends TLS, set it."""
    ocid_prefix: str = "ocds-prvsn1"
    """The OCDS ocid prefix (`ocds-` and six characters, registered with the Open Contracting Partnership) that
    GET /exercises/{id}/ocds puts before each exercise's id."""
    pool_min_size: int = 2
    pool_max_size: int = 10
    schema_dir: Path = PROJECT_ROOT / "schema"
    seed_dir: Path = PROJECT_ROOT / "seed_data"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives (unset or empty variables keep the defaults)."""
        env = os.environ if env is None else env
        given = {field: env[name] for field, name in ENVIRONMENT.items() if env.get(name)}
        try:
            settings = msgspec.convert(given, cls, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as exc:
            field = str(exc).rpartition("$.")[2].rstrip("`")
            name = ENVIRONMENT.get(field, field)
            raise SettingsError(f"{name}={given.get(field)!r}: {str(exc).partition(' - at')[0]}") from None
        if settings.base_url is not None and not BASE_URL.fullmatch(settings.base_url):
            raise SettingsError(
                f"MARKETPLACE_BASE_URL={settings.base_url!r}: must be an address starting https:// or http://, without "
                "a query, e.g. https://provision.example.org"
            )
        return settings


BASE_URL = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")
"""What `base_url` may be: a scheme, a host (and port), perhaps a path; no query or fragment."""


ENVIRONMENT: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "owner_database_url": "MARKETPLACE_OWNER_DATABASE_URL",
    "data_dir": "MARKETPLACE_DATA_DIR",
    "secret": "MARKETPLACE_SECRET",
    "registration_limit": "MARKETPLACE_REGISTRATION_LIMIT",
    "match_slots": "MARKETPLACE_MATCH_SLOTS",
    "match_split_from": "MARKETPLACE_MATCH_SPLIT_FROM",
    "denial_limit": "MARKETPLACE_DENIAL_LIMIT",
    "expensive_limit": "MARKETPLACE_EXPENSIVE_LIMIT",
    "anonymous_expensive_limit": "MARKETPLACE_ANONYMOUS_EXPENSIVE_LIMIT",
    "audit_retention_months": "MARKETPLACE_AUDIT_RETENTION_MONTHS",
    "ocid_prefix": "MARKETPLACE_OCID_PREFIX",
    "base_url": "MARKETPLACE_BASE_URL",
    "pool_min_size": "MARKETPLACE_POOL_MIN",
    "pool_max_size": "MARKETPLACE_POOL_MAX",
    "seed_dir": "MARKETPLACE_SEED_DIR",
}
"""Setting -> the environment variable that sets it."""


def _decode(typ: type, value: Any) -> Any:
    if typ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(typ)
