"""Budgets for the expensive operations (match runs, partnership proposals, reports, exports): per API key, and per
client address for callers without a key.

Each worker counts, per API key and minute, the expensive requests it has admitted; past `limit` in a minute the
key's further expensive requests are refused (429 with Retry-After: the seconds left in the minute) until the
minute ends. A caller without a key (who may export the directory) is counted by its client address instead, up to
`anonymous_limit` a minute: leaving the key out is no way round the key's limit. Counts are per worker, like the
denial ledger (marketplace.audit.Denials): with W workers a key may make up to W × limit in a minute. Times are
given by the caller, so the ledger keeps no clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


class KeyBudget:
    def __init__(self, limit: int, anonymous_limit: int) -> None:
        self.limit = limit
        self.anonymous_limit = anonymous_limit
        self.minute: dt.datetime | None = None
        self.used: dict[int, int] = {}
        self.used_by_client: dict[str, int] = {}

    def take(self, key_id: int, now: dt.datetime) -> int | None:
        """Count one expensive request by `key_id`; None when admitted, else the seconds until the next minute."""
        return self._take(self.used, key_id, self.limit, now)

    def take_anonymous(self, client: str, now: dt.datetime) -> int | None:
        """Count one expensive request made without a key from `client` (its address); as `take`."""
        return self._take(self.used_by_client, client, self.anonymous_limit, now)

    def _take(self, used: dict[K, int], who: K, limit: int, now: dt.datetime) -> int | None:
        minute = now.replace(second=0, microsecond=0)
        if minute != self.minute:  # a new minute: every key and client starts afresh
            self.minute = minute
            self.used.clear()
            self.used_by_client.clear()
        count = used.get(who, 0)
        if count >= limit:
            return max(1, 60 - now.second)
        used[who] = count + 1
        return None
