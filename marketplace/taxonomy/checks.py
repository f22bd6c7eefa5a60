"""Checking codes against a taxonomy, with the allowed values and a did-you-mean suggestion; and dates against the
years a record can be about."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping

from marketplace.errors import FieldProblem
from marketplace.messages import CODE_WORDS, not_a_code, suggest
from marketplace.types import AREA_CODE, SLUG, UPPER_CODE

__all__ = ["EARLIEST_DATE", "LATEST_DATE", "check_code", "check_codes", "check_dates", "suggest"]


FORMS = {
    "area": AREA_CODE,
    "pathway": UPPER_CODE,
    "cohort": UPPER_CODE,
    "sector": SLUG,
    "legal form": SLUG,
    "accreditation": SLUG,
    "social value": SLUG,
}
"""What each taxonomy's codes look like (their fields' patterns in a body), by what one code is called."""
LOOKS = dict(CODE_WORDS.values())
"""What one code is called -> the sentence saying what its codes look like (messages.CODE_WORDS)."""


def check_code(field: str, value: str, allowed: Mapping[str, str], what: str) -> FieldProblem | None:
    """None when value is a known code; else a problem naming the field, the allowed codes and a suggestion. A value
    not of the form a taxonomy's codes take is told that form, as a body's code field is (`messages.code_problem`),
    wherever it came from (a query string, a path)."""
    if value in allowed:
        return None
    form = FORMS.get(what)
    if form is not None and re.fullmatch(form, value) is None:
        problem = not_a_code(value, what, LOOKS[what])
    else:
        problem = f"unknown {what} code {value!r}"
    suggestion = suggest(value, allowed, allowed)
    if suggestion is not None:
        name = allowed[suggestion]
        problem += f"; did you mean {suggestion}" + (f" ({name})?" if name != suggestion else "?")
    return FieldProblem(field=field, problem=problem, allowed=sorted(allowed), suggestion=suggestion)


def check_codes(field: str, values: Iterable[str], allowed: Mapping[str, str], what: str) -> list[FieldProblem]:
    """A problem for each of `values` that is not a known code."""
    return [p for v in values if (p := check_code(field, v, allowed, what)) is not None]


# The dates a record may carry: PostgreSQL (through asyncpg) would store the first and last dates Python has as
# -infinity and infinity, and nothing a commissioner or provider records is that far off.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)


def not_after(today: dt.date, **dates: dt.date | None) -> list[FieldProblem]:
    """check_dates, and a problem for each date (by field name) after `today`: something counted or closed, which
    cannot have happened yet."""
    return check_dates(**dates) + [
        FieldProblem(field=field, problem=f"must not be after today ({today.isoformat()})")
        for field, value in dates.items()
        if value is not None and today < value <= LATEST_DATE
    ]


def check_dates(**dates: dt.date | None) -> list[FieldProblem]:
    """A problem for each date (by field name) outside EARLIEST_DATE..LATEST_DATE."""
    return [
        FieldProblem(field=field, problem=f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
        for field, value in dates.items()
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE
    ]
