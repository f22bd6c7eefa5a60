"""API keys: how they look, how they are stored, and the requests that make them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Annotated

import msgspec
from msgspec import Meta

from marketplace.types import Role, plain

KEY_PREFIX = "prv_"  # recognisable in logs, config files and secret scanners
KEY_RE = re.compile(r"^prv_[A-Za-z0-9_-]{43}$")


def new_key() -> str:
    """A high-entropy key (256 bits) with a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(secret: bytes, key: str) -> bytes:
    """Keys are stored only as HMAC-SHA256 under the server secret: fast to check, useless if leaked."""
    return hmac.new(secret, key.encode(), hashlib.sha256).digest()


def key_hint(key: str) -> str:
    return key[:10]


class ApiKey(msgspec.Struct):
    id: int
    name: str
    role: str
    provider_id: int | None
    hint: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewApiKey(msgspec.Struct):
    """Returned once, at creation: `key` is never shown again."""

    key: str
    api_key: ApiKey


KEY_NAME = plain(
    r"^[^\x00-\x1f]*[^\x00-\x20\u00a0\u200b-\u200f\u2060\ufeff][^\x00-\x1f]*$",
    "must be text on one line with at least one character that is not a space, without control characters, "
    "e.g. Ledbury Lanterns website",
    "Ledbury Lanterns website",
)
KeyName = Annotated[str, Meta(min_length=1, max_length=200, pattern=KEY_NAME, description="Who or what the key is for")]


class AdminKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="admin"):
    name: KeyName


class CommissionerKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="commissioner"):
    name: KeyName


class ProviderKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="provider"):
    name: KeyName
    provider_id: Annotated[int, Meta(ge=1, le=999_999_999_999)]


KeyRequest = AdminKeyRequest | CommissionerKeyRequest | ProviderKeyRequest


def key_request(role: Role, name: str, provider_id: int | None) -> KeyRequest:
    """The request the command line makes from its arguments."""
    if role == "provider":
        return ProviderKeyRequest(name=name, provider_id=provider_id or 0)
    return AdminKeyRequest(name=name) if role == "admin" else CommissionerKeyRequest(name=name)
