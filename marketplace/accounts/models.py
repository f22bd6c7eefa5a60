"""API keys, callers, history and audit records."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

ROLES = ("admin", "commissioner", "provider")
Role = Literal["admin", "commissioner", "provider"]

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


class Caller(msgspec.Struct, frozen=True):
    """Who is making a request. Anonymous callers have no key."""

    role: Literal["admin", "commissioner", "provider", "anonymous"]
    key_id: int | None = None
    provider_id: int | None = None
    name: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.key_id is None


ANONYMOUS = Caller(role="anonymous")


class Actor(msgspec.Struct, frozen=True):
    """A caller plus the request it acts through: what history and audit records name."""

    caller: Caller
    request_id: str
    method: str
    path: str


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


KeyName = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$", description="Who or what the key is for")]


class AdminKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="admin"):
    name: KeyName


class CommissionerKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="commissioner"):
    name: KeyName


class ProviderKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="provider"):
    name: KeyName
    provider_id: Annotated[int, Meta(ge=1, le=999_999_999_999)]


KeyRequest = AdminKeyRequest | CommissionerKeyRequest | ProviderKeyRequest


class HistoryEntry(msgspec.Struct):
    """One changed field, in the shape of Open Referral HSDS `metadata`."""

    id: int
    resource_id: int
    resource_type: str
    version: int
    last_action_date: dt.datetime
    last_action_type: str
    field_name: str
    previous_value: Any
    replacement_value: Any
    updated_by: int | None
    updated_by_role: str | None
    request_id: str | None


class HistoryPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[HistoryEntry]


class AuditEntry(msgspec.Struct):
    id: int
    at: dt.datetime
    request_id: str | None
    key_id: int | None
    role: str | None
    method: str
    path: str
    status: int
    outcome: str
    provider_id: int | None
    detail: str


class AuditPage(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[AuditEntry]
