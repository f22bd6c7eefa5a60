"""What the console's pages show beyond the other rooms' records: a session, a shortlist, a comparison, a form's
state (its values and the problems beside its fields), the audit log's and the change history's entries as people
read them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from marketplace.accounts.models import Change as ChangeEntry
from marketplace.accounts.models import ChangePage
from marketplace.audit import AuditEntry, AuditPage
from marketplace.errors import FieldProblem
from marketplace.types import Caller
from matching import CriterionScore


class Session(msgspec.Struct, frozen=True):
    """A signed-in browser: who it acts as (looked up from its key on every request) and its CSRF token."""

    caller: Caller
    csrf_token: str


class ShortlistEntry(msgspec.Struct, frozen=True):
    provider_id: int
    name: str
    added_at: dt.datetime


class Column(msgspec.Struct, frozen=True):
    """One provider in a side-by-side comparison: its place in the need's match run, and each criterion's score."""

    provider_id: int
    name: str
    rank: int | None = None
    total: float | None = None
    capacity: float | None = None
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()
    scores: dict[str, CriterionScore] = {}
    excluded: tuple[str, ...] = ()
    """Why the run excluded the provider (empty when ranked)."""
    in_run: bool = True
    """False: the run neither ranked it (within its stored ranking) nor names it among the excluded."""


class Comparison(msgspec.Struct, frozen=True):
    run_id: int
    criteria: list[str]
    columns: list[Column]
    left_out: int = 0
    """Providers chosen beyond the four that fit side by side, not compared."""


class Change(msgspec.Struct, frozen=True):
    """A field someone else changed since a form was opened."""

    field: str
    before: Any
    after: Any
    when: dt.datetime
    by_role: str | None


class FormState(msgspec.Struct):
    """A form as it is shown again: the values as typed, and the problems by field name (the API's own field
    paths, e.g. contact.email or capacity.places_available)."""

    values: dict[str, str]
    problems: list[FieldProblem] = []
    unplaced: list[FieldProblem] = []
    """Problems with a field the form does not show (listed in the error summary only)."""
    labels: dict[str, str] = {}
    """What the error summary calls a field, where its name alone does not say (`need.7.unit_cost`)."""

    def errors_for(self, name: str) -> list[str]:
        return [p.problem for p in self.problems if p.field == name]


# --- the audit log and the change history, as people read them ------------------------------------------


class Who(msgspec.Struct, frozen=True):
    """Who acted, as a person reads it: the key's name and its role, not only its number. Without a key, what acted
    instead (no key at all, the command line, or a change made in the database around the API)."""

    name: str
    role: str
    """The role the entry recorded (a key's role never changes), in words."""
    key_id: int | None = None
    note: str = ""
    """What else to know of the key: revoked since, or no longer on record."""


class AuditRow(msgspec.Struct, frozen=True):
    """One entry of the audit log, its key named."""

    entry: AuditEntry
    who: Who
    record: tuple[str, str] | None = None
    """The record a write names (its table and id), whose change history the row links to."""


class Shown(msgspec.Struct, frozen=True):
    """A value of the change history as a cell shows it: `text`, and the whole value (`full`) when the text is
    shortened or the value is JSON laid out to read (`json`); `exact`: a date or time as stored, shown in words."""

    text: str
    full: str = ""
    exact: str = ""
    json: bool = False


class FieldRow(msgspec.Struct, frozen=True):
    field: str
    before: Shown
    after: Shown


class ChangeRow(msgspec.Struct, frozen=True):
    """One change of the history, its key named and each field's values made readable."""

    change: ChangeEntry
    who: Who
    fields: list[FieldRow]


class AuditView(msgspec.Struct):
    """The audit log's page: a page of entries (None when its filters could not be read: `problems`, by field), and
    the keys its Who filter offers, (id, words)."""

    found: AuditPage | None
    rows: list[AuditRow]
    problems: list[FieldProblem]
    keys: list[tuple[str, str]]


class ChangesView(msgspec.Struct):
    """The change history's page, as AuditView."""

    found: ChangePage | None
    rows: list[ChangeRow]
    problems: list[FieldProblem]
    keys: list[tuple[str, str]]


class Meant(msgspec.Struct, frozen=True):
    """A partner named on the response form that the directory holds under a close name: the name as typed, and the
    published provider reconciliation takes it for (a clear match)."""

    typed: str
    provider_id: int
    name: str
