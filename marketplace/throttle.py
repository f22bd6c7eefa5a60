"""Per-key budgets for the expensive operations (match runs, partnership proposals, reports).

Each worker counts, per API key and minute, the expensive requests it has admitted; past `limit` in a minute the
key's further expensive requests are refused (429 with Retry-After: the seconds left in the minute) until the
minute ends. Counts are per worker, like the denial ledger (marketplace.audit.Denials): with W workers a key may
make up to W × limit in a minute. Times are given by the caller, so the ledger keeps no clock."""

from __future__ import annotations

import datetime as dt


class KeyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.minute: dt.datetime | None = None
        self.used: dict[int, int] = {}

    def take(self, key_id: int, now: dt.datetime) -> int | None:
        """Count one expensive request by `key_id`; None when admitted, else the seconds until the next minute."""
        minute = now.replace(second=0, microsecond=0)
        if minute != self.minute:  # a new minute: every key starts afresh
            self.minute, self.used = minute, {}
        used = self.used.get(key_id, 0)
        if used >= self.limit:
            return max(1, 60 - now.second)
        self.used[key_id] = used + 1
        return None
