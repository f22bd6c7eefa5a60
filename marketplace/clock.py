"""The one clock. Use cases read the time from the `Clock` they are given, never from the system.

The clock gives UTC instants. The "as of" date of an assessment (a match run, a report) is derived from
it in one place, `Clock.today()`: the calendar date in England, where the commissioners work.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Europe/London")


class Clock:
    """The system clock."""

    def now(self) -> dt.datetime:
        """The current instant, in UTC."""
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        """The date assessments are made as of: today in Europe/London."""
        return self.now().astimezone(LOCAL_ZONE).date()


class FixedClock(Clock):
    """A clock that always says the same instant (tests, reproducible runs)."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a fixed clock needs an aware datetime")
        self.at = at.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self.at


def deadline_of(closes_on: dt.date) -> dt.datetime:
    """The end of `closes_on` in Europe/London (midnight starting the next day there): an exercise's deadline."""
    return dt.datetime.combine(closes_on + dt.timedelta(days=1), dt.time(0), tzinfo=LOCAL_ZONE)
