"""What the console's pages show beyond the other rooms' records: a session, a shortlist, a comparison, a form's
state (its values and the problems beside its fields)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

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
