"""Imports of organisations and services from files: the dry run's report and the commit's answer."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from marketplace.providers.models import NewProvider
from marketplace.types import Strict

Verdict = Literal["new", "duplicate", "ambiguous", "bad"]
ImportFormat = Literal["csv", "xlsx", "hsds"]
RowNumber = Annotated[int, Meta(ge=1, le=10_000_000)]


class ImportProblem(msgspec.Struct, omit_defaults=True):
    """What is wrong with a row: the file (in a package), the row (as a spreadsheet numbers it: the header is
    row 1) and the column."""

    row: int
    column: str
    problem: str
    file: str | None = None


class Candidate(msgspec.Struct, omit_defaults=True):
    """A provider already in the directory that the row may be, or an earlier row of the same file (`row`)."""

    provider_id: int | None
    """The provider; null for an earlier row of the file (nothing is made of it before the commit)."""
    name: str
    status: str
    """The provider's status; for an earlier row of the file, that row's verdict (new or ambiguous)."""
    score: float
    """0..1: how sure we are it is the same organisation."""
    reasons: list[str]
    """same org-id GB-CHC-1234567; same website; similar name (0.93) and same area (E06000019)..."""
    row: int | None = None
    """An earlier row of this file that the row may be the same organisation as (a row a commit could create)."""


class ImportRow(msgspec.Struct, omit_defaults=True):
    """One organisation of the file (with its services) and what committing it would do."""

    row: int
    """Its row: organizations.csv's in a package, its first row in a flat sheet. `accept` names rows by it."""
    verdict: Verdict
    name: str
    services: int = 0
    rows: list[int] = []
    """Every row it was read from: a flat sheet's (one per service); in a package, its row in organizations.csv, then
    its services' rows in services.csv."""
    provider_id: int | None = None
    """A duplicate: the provider it is."""
    score: float | None = None
    reasons: list[str] = []
    """A duplicate: why it is the provider it is. An ambiguous row: which earlier rows of the file it may be the
    same organisation as, and what accepting them does."""
    candidates: list[Candidate] = []
    """An ambiguous row: the providers it may be, then the earlier rows of the file it may be (a duplicate: the
    provider it is, first)."""
    problems: list[ImportProblem] = []
    """A bad row: every problem found."""


class ImportSummary(msgspec.Struct):
    rows: int
    new: int
    duplicate: int
    ambiguous: int
    bad: int
    services: int


class CommittedRow(msgspec.Struct, omit_defaults=True):
    row: int
    outcome: Literal["created", "not_applied"]
    provider_id: int | None = None
    """created: the new pending provider; not_applied: the provider the row duplicates."""
    reason: str | None = None


class ImportCommit(msgspec.Struct):
    import_id: int
    created_at: dt.datetime
    accepted: list[int]
    results: list[CommittedRow]


class ImportRun(msgspec.Struct):
    """A stored dry run (and its commit, once made)."""

    id: int
    created_at: dt.datetime
    filename: str
    format: ImportFormat
    summary: ImportSummary
    rows: list[ImportRow]
    commit: ImportCommit | None = None


class StoredProfile(msgspec.Struct, omit_defaults=True):
    """What a dry run keeps of a row a commit may create: the profile, and when the file says its provider, and each
    of its services (in order), last confirmed it (none: not said). (Dry runs stored before these dates were kept
    hold the profile alone.)"""

    profile: NewProvider
    last_confirmed: dt.date | None = None
    services_last_confirmed: list[dt.date | None] = []


class CommitRequest(Strict):
    """Which rows to apply: row numbers from the dry run, or "new" for every new row. A new or ambiguous row
    becomes a pending profile; a duplicate changes nothing (reported not applied); a bad row cannot be accepted."""

    accept: Annotated[list[RowNumber], Meta(min_length=1, max_length=50_000)] | Literal["new"]
