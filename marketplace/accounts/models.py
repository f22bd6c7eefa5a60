"""API keys: how they look, how they are stored, and the requests that make them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from marketplace.types import SEEN_CHAR, Page, Role, plain

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
    rf"^[^\x00-\x1f]*{SEEN_CHAR}[^\x00-\x1f]*$",
    "must be text on one line with at least one character that is not a space, without control characters, "
    "e.g. Ledbury Lanterns website",
    "Ledbury Lanterns website",
)
KeyName = Annotated[str, Meta(min_length=1, max_length=200, pattern=KEY_NAME, description="Who or what the key is for")]


class AdminKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="admin"):
    name: KeyName


class CommissionerKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="commissioner"):
    name: KeyName


class AuditorKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="auditor"):
    """A key that reads what admins and commissioners read (the audit log and the change history too) and changes
    nothing."""

    name: KeyName


class ProviderKeyRequest(msgspec.Struct, forbid_unknown_fields=True, tag_field="role", tag="provider"):
    name: KeyName
    provider_id: Annotated[int, Meta(ge=1, le=999_999_999_999)]


KeyRequest = AdminKeyRequest | CommissionerKeyRequest | AuditorKeyRequest | ProviderKeyRequest


def key_request(role: Role, name: str, provider_id: int | None) -> KeyRequest:
    """The request the command line makes from its arguments."""
    if role == "provider":
        return ProviderKeyRequest(name=name, provider_id=provider_id or 0)
    if role == "auditor":
        return AuditorKeyRequest(name=name)
    return AdminKeyRequest(name=name) if role == "admin" else CommissionerKeyRequest(name=name)


# --- the change history (schema/0027_change_history.sql) -----------------------------------------------------

RecordTable = Literal[
    "accreditation",
    "api_key",
    "appraisal",
    "area",
    "cohort",
    "desired_outcome",
    "engagement_clarification",
    "engagement_question",
    "exercise",
    "legal_form",
    "need",
    "pathway",
    "provider",
    "sector",
    "social_value_commitment",
]
"""The records whose changes the history keeps, by table: each row of these tables, and of their parts (a need's
areas, cohorts, accreditations and shortlist; an exercise's publication), is recorded as a change of one of them; of
a provider, only its status and verified mark and its evidence verifications (its profile has its own history)."""
NUMBERED: frozenset[str] = frozenset(
    {"api_key", "appraisal", "engagement_clarification", "engagement_question", "exercise", "need", "provider"}
)
"""The record tables whose ids are numbers; the others' are codes (the taxonomies)."""
CODED: frozenset[str] = frozenset(get_args(RecordTable)) - NUMBERED
RECORD_ID = plain(
    r"^[A-Za-z0-9_-]{1,100}$",
    "must be a record's id or code: letters, digits, underscores and hyphens, e.g. 7 or ACCOM",
    "ACCOM",
)


class FieldChange(msgspec.Struct):
    """One column of a changed row: its value before and after (null before an insert, after a delete)."""

    field: str
    before: Any
    after: Any


class Change(msgspec.Struct):
    """One row inserted, updated or deleted, in one transaction. An update lists only the columns that changed."""

    id: int
    at: Annotated[dt.datetime, Meta(description="When the transaction that made it began, by the database's clock")]
    table: Annotated[str, Meta(description="The record's table, e.g. need")]
    record_id: Annotated[str, Meta(description="The record's id (digits) or code, as text, e.g. 7 or ACCOM")]
    part: Annotated[
        str | None,
        Meta(description="The table of the record's part that changed (need_area, ...); null: the record's own row"),
    ]
    operation: Literal["insert", "update", "delete"]
    key_id: Annotated[int | None, Meta(description="The API key that made it; null without one")]
    role: Annotated[
        str | None,
        Meta(description="Its caller's role (system: the command line or the seed); null: made around the API"),
    ]
    request_id: Annotated[str | None, Meta(description="The request that made it, as in the audit log")]
    changes: list[FieldChange]


class ChangePage(Page[Change]):
    pass
