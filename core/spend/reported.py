"""What the providers reported for linked integrations over a period: the limits' other source.

Read from the spend index (`byok.spend.json`, small) and only the segments holding the period's
days, summed per provider key once per account and period and kept until the index changes: a
limits read costs a `stat` when nothing was synced since. Light on purpose (no httpx, no
pydantic): the console's dashboard computes the limits figures with it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.spend.store import (
    Segments,
    day_key,
    day_names,
    open_spend_file,
    read_days,
    segment_dir,
)
from core.storage import AtomicJSONStorage

KEY, IN, OUT, CENTS = 0, 2, 3, 7  # columns of a stored usage row (store.COLUMNS["usage"])
COST_KEY, COST_CENTS = 0, 2  # of a cost row (store.COLUMNS["cost"])


@dataclass(frozen=True, slots=True)
class Reported:
    """A key's reported spend over a period: cents (a day's cost the provider reported for the
    key where it did, else the day's tokens priced), input + output tokens, and the last sync of
    a day of the period."""

    cents: float
    tokens: int
    synced_at: str


class ReportedSpend:
    """The reported spend of one database (`path`: its spend side file, which may not exist)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: AtomicJSONStorage | None = None
        self._segments: Segments | None = None
        self._gen: object = None
        # (account id, period start, end) -> (key -> [cents, tokens], synced_at) or None
        self._sums: dict[tuple[str, datetime, datetime], Any] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def period(
        self, tenant_id: str, integration_ids: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, Reported]:
        """Each linked integration's reported spend over [start, end), by id; an integration
        with no link, or whose account has synced no day of the period, is left out."""
        with self._lock:
            file = self._open()
            if file is None:
                return {}
            gen = file.generation()
            if gen != self._gen:
                self._sums, self._gen = {}, gen
            links = file.snapshot().get("links", {})
            out: dict[str, Reported] = {}
            for iid in integration_ids:
                link = links.get(iid)
                if link is None or link.get("tenant_id") != tenant_id:
                    continue
                found = self._account(file, link["account_id"], start, end)
                if found is None:
                    continue
                sums, synced_at = found
                cents, tokens = sums.get(link["provider_key_id"], (0.0, 0))
                out[iid] = Reported(round(cents, 4), tokens, synced_at)
            return out

    def _open(self) -> AtomicJSONStorage | None:
        if self._file is None:
            if not os.path.exists(self.path):
                return None
            self._file = open_spend_file(self.path, create=False)
            self._segments = Segments(segment_dir(self._file.path))
        return self._file

    def _account(
        self, file: AtomicJSONStorage, account_id: str, start: datetime, end: datetime
    ) -> tuple[dict[str, list[Any]], str] | None:
        cached = self._sums.get((account_id, start, end), False)
        if cached is not False:
            return cached
        assert self._segments is not None
        days = day_names(start, end)
        keys = [day_key(account_id, kind, d) for d in days for kind in ("usage", "cost")]
        # day -> key -> [priced cents, tokens], and day -> key -> billed cents
        used: dict[str, dict[str, list[Any]]] = {}
        billed: dict[str, dict[str, float]] = {}
        synced: list[str] = []
        for _, _, doc, rows in read_days(file, self._segments, keys):
            synced.append(doc["synced_at"])
            if doc["kind"] == "cost":
                paid = billed.setdefault(doc["day"], {})
                for row in rows:
                    if row[COST_KEY] is not None:  # None: organisation-wide, no key's
                        paid[row[COST_KEY]] = paid.get(row[COST_KEY], 0.0) + row[COST_CENTS]
                continue
            day = used.setdefault(doc["day"], {})
            for row in rows:
                acc = day.get(row[KEY])
                if acc is None:
                    acc = day[row[KEY]] = [0.0, 0]
                acc[0] += row[CENTS] or 0.0
                acc[1] += row[IN] + row[OUT]
        sums: dict[str, list[Any]] = {}
        for day in days:  # the provider's own cost of a key-day replaces its priced tokens
            priced, paid = used.get(day, {}), billed.get(day, {})
            for key in priced.keys() | paid.keys():
                acc = sums.setdefault(key, [0.0, 0])
                cents, tokens = priced.get(key, (0.0, 0))
                acc[0] += paid.get(key, cents)
                acc[1] += tokens
        found = (sums, max(synced)) if synced else None
        self._sums[(account_id, start, end)] = found
        return found
