"""Values written for people: pounds, whole numbers, scores, percentages, dates, codes (pure; no I/O).

Shared by the HTML templates (registered as filters in :mod:`marketplace.templating`) and the CSV
writer, so a figure reads the same wherever it appears. Imports nothing from the rest of the app.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
UK = ZoneInfo("Europe/London")
"""The time zone of the UK's clocks (as `marketplace.clock.LOCAL_ZONE`: this module imports nothing of the app's)."""
# codes whose usual spelling is not their humanised form
SPECIAL_WORDS = {
    "co_operative": "Co-operative",
    "co_operative_society": "Co-operative society",
    "cio": "CIO",
    "cic": "CIC",
    "vcse": "VCSE",
    "cyp": "CYP",
    "ete": "ETE",
    "tupe": "TUPE",  # a barrier to bidding: staff transfer rules
    "either": "Lead or partner",  # a response's intent, as the form offers it ("Yes, as lead or partner")
    "yes_no": "Yes or no",  # a question's kind
}


def whole_pounds(x: float | int) -> int:
    """Round to whole pounds, halves away from zero (as people round money, not banker's rounding)."""
    return int(Decimal(str(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pounds(x: float | int) -> str:
    """``1234.5`` -> "£1,235"."""
    return f"£{whole_pounds(x):,}"


def whole(n: float | int) -> str:
    """``1234.4`` -> "1,234"."""
    return f"{round(n):,}"


def figure(x: float | int) -> str:
    """A number as a person writes it, no more precise than it is: ``12.0`` -> "12", ``1600`` -> "1600" (a year
    takes no comma: none below 10,000), ``200000`` -> "200,000", ``2.5`` -> "2.5", ``1e308`` -> "1e+308"."""
    if abs(x) >= 1e15:
        return f"{x:.6g}"
    if float(x).is_integer():
        return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:.0f}"
    return f"{x:,.12g}" if abs(x) >= 10_000 else f"{x:.12g}"


def number_words(*, whole: bool, least: float | None, most: float | None, above: float | None = None) -> str:
    """What a number field takes, in words: "a whole number from 0 to 50", "a number of 0 or more", "a number";
    `above`, a least it must be more than (not equal to): "a number more than 0, up to 100"."""
    kind = "a whole number" if whole else "a number"
    low, high = (None if x is None else figure(x) for x in (least, most))
    if above is not None and least is None:
        return f"{kind} more than {figure(above)}" + (f", up to {high}" if high is not None else "")
    return bounded(low, high, kind + " from {0} to {1}", kind + " of {0} or more", kind + " of {1} or less", kind)


def bounded(least: object, most: object, both: str, from_least: str, to_most: str, neither: str) -> str:
    """The phrase for a range whose ends may be unset (None): ``both``, ``from_least``, ``to_most`` or
    ``neither``, with ``{0}`` the least and ``{1}`` the most."""
    if least is not None and most is not None:
        return both.format(least, most)
    if least is not None:
        return from_least.format(least, most)
    if most is not None:
        return to_most.format(least, most)
    return neither


def score(x: float, digits: int = 3) -> str:
    """A 0..1 score to 3 decimals: ``0.91234`` -> "0.912"."""
    return f"{x:.{digits}f}"


def score_against(x: float, threshold: float, digits: int = 3) -> str:
    """A score as :func:`score` writes it, but never rounded up to a threshold it is below: then it is cut (not
    rounded) to one decimal more, so it reads as below: ``0.69996`` against ``0.7`` -> "0.6999", not "0.700"."""
    shown = score(x, digits)
    if x >= threshold or float(shown) < threshold:
        return shown
    cut = Decimal(str(x)).quantize(Decimal(1).scaleb(-(digits + 1)), rounding=ROUND_DOWN)
    return f"{cut:.{digits + 1}f}"


def percent(x: float) -> str:
    """A share as a whole percentage: ``0.605`` -> "60%"."""
    return f"{x * 100:.0f}%"


def humanise(code: str) -> str:
    """``third_sector`` / ``CARE_LEAVERS`` -> "Third sector" / "Care leavers"; some codes keep a set spelling."""
    if code.lower() in SPECIAL_WORDS:
        return SPECIAL_WORDS[code.lower()]
    text = code.replace("_", " ").strip().lower()
    return text[:1].upper() + text[1:]


def lower_code(code: str) -> str:
    """As :func:`humanise`, in lower case for use mid-sentence (acronyms kept: "CIO", but "co-operative")."""
    special = SPECIAL_WORDS.get(code.lower())
    if special is not None:
        return special if special.isupper() else special.lower()
    return code.replace("_", " ").strip().lower()


def date(d: dt.date | None) -> str:
    """``2026-10-01`` -> "1 October 2026"; ``None`` -> "not set"."""
    if d is None:
        return "not set"
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def when(t: dt.datetime | None) -> str:
    """A moment to the minute, with its offset: "22 November 2026, 15:56 UTC"; ``None`` -> "not recorded"."""
    if t is None:
        return "not recorded"
    out = f"{date(t.date())}, {t:%H:%M}"
    offset = t.utcoffset()
    if offset is None:
        return out
    if offset == dt.timedelta(0):
        return out + " UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return out + f" UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def iso_utc(t: dt.datetime) -> str:
    """A moment in ISO 8601, UTC, as the JSON writes it: "2026-12-10T12:00:00Z" (CSV columns, OCDS dates)."""
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def uk_when(t: dt.datetime | None, *, seconds: bool = False) -> str:
    """A moment to the minute (or the second) as the clock in England shows it (GMT or BST): "1 October 2026, 09:00
    UK time" for 08:00 UTC that day; a time without an offset is taken as UTC; ``None`` -> "not recorded"."""
    if t is None:
        return "not recorded"
    local = (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(UK)
    return f"{date(local.date())}, {local.strftime('%H:%M:%S' if seconds else '%H:%M')} UK time"


def ages(min_age: int | None, max_age: int | None) -> str:
    """An age range as a person says it: "10 to 17", "18 and over", "up to 17", or "any age" when neither end is set."""
    return bounded(min_age, max_age, "{0} to {1}", "{0} and over", "up to {1}", "any age")


def closing_day(deadline: dt.datetime) -> dt.date:
    """The day a deadline is the end of, in the UK (a deadline is midnight at the end of its closing day there)."""
    return (deadline.astimezone(UK) - dt.timedelta(microseconds=1)).date()


def plural(n: int, one: str, many: str | None = None) -> str:
    """``plural(2, "need")`` -> "2 needs"; ``plural(1, "has", "have")`` -> "1 has"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def and_list(items: Iterable[str]) -> str:
    """``["a", "b", "c"]`` -> "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def shorten(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut with an ellipsis (for SVG text, which does not wrap)."""
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)].rstrip(" ,;:-") + "…"


@functools.lru_cache(maxsize=4096)  # a chart repeats a few hundred distinct coordinates
def coord(x: float) -> str:
    """A compact SVG coordinate: one decimal at most, none when whole (``12.0`` -> "12", ``3.14`` -> "3.1")."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def arrows(text: str) -> str:
    """Typographic arrows: "-> 1.00" -> "→ 1.00" (evidence lines are written with ASCII arrows)."""
    return text.replace(" -> ", " → ")
