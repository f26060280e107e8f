"""The console's reads from the facade, shaped for screens; no business rules live here.

Parts of the core may not have landed yet (health, usage): their calls raise NotImplementedError.
`Unavailable` carries that fact to the screen, which says so plainly in its own area instead of
failing. Everything here is async and is called from Textual workers, never from a handler.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import (
    Alert,
    IntegrationsFacade,
    IntegrationSummaryResult,
    LimitsStatusResult,
)

PAGE_FETCH = 1000  # the facade's largest page


class Unavailable(Exception):
    """A part of the core that is not available in this build (it raised NotImplementedError)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not available in this build of byok")
        self.what = what


@dataclass
class Listing:
    """One read of the home table: every matching summary, in the core's order (newest first)."""

    items: list[IntegrationSummaryResult]
    total: int
    counts: dict[str, int] = field(default_factory=dict)


def health_counts(items: Iterable[IntegrationSummaryResult]) -> dict[str, int]:
    counts = {"healthy": 0, "degraded": 0, "failing": 0, "unknown": 0}
    for item in items:
        key = str(getattr(item.health_state, "value", item.health_state))
        counts[key] = counts.get(key, 0) + 1
    return counts


class ConsoleData:
    """Reads for one tenant. Screens share one instance through the app."""

    def __init__(self, facade: IntegrationsFacade, tenant_id: str) -> None:
        self.facade = facade
        self.tenant_id = tenant_id

    @property
    def db_path(self) -> Path:
        return self.facade.db_path

    @property
    def db_label(self) -> str:
        """The database path as people read it: relative to the working dir or to ~ if inside."""
        path = self.db_path
        for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
            try:
                return prefix + str(path.relative_to(base))
            except ValueError:
                continue
        return str(path)

    async def listing(self, search: str | None = None) -> Listing:
        """All summaries matching `search` (the core decides what matches), in pages of 1000."""
        items: list[IntegrationSummaryResult] = []
        offset = 0
        while True:
            page = await self.facade.list_integrations(
                self.tenant_id, search=search or None, offset=offset, limit=PAGE_FETCH
            )
            items.extend(page.items)
            offset += PAGE_FETCH
            if offset >= page.total or not page.items:
                return Listing(items=items, total=page.total, counts=health_counts(items))

    async def limits(self, ids: Iterable[str]) -> dict[str, LimitsStatusResult | None]:
        """Limits status of several integrations; raises Unavailable when usage has not landed."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        try:
            results = await asyncio.gather(
                *(self.facade.get_limits_status(self.tenant_id, iid) for iid in wanted)
            )
        except NotImplementedError:
            raise Unavailable("usage and limits") from None
        return dict(zip(wanted, results, strict=True))

    async def alerts(self, integration_id: str | None = None, limit: int = 100) -> list[Alert]:
        try:
            return await self.facade.get_alerts(self.tenant_id, integration_id, limit=limit)
        except NotImplementedError:
            raise Unavailable("usage alerts") from None

    async def health_log(self, integration_id: str | None = None, limit: int = 100) -> list[Any]:
        try:
            return await self.facade.get_health_log(self.tenant_id, integration_id, limit=limit)
        except NotImplementedError:
            raise Unavailable("the health log") from None

    def change_token(self) -> tuple[Any, ...]:
        """A cheap identity of everything the console shows: the integrations file's generation
        plus the size and mtime of the side files (health log, usage rollups and usage log).

        A few stat calls; another process's write (the CLI, a cron probe, usage recording) changes
        it. Called from a worker thread by the live-refresh loop.
        """
        store = self.facade.context.store
        parts: list[Any] = [store.generation()]
        path = self.db_path
        prefix = path.stem + "."
        try:
            with os.scandir(path.parent) as entries:
                for entry in entries:
                    if not entry.name.startswith(prefix) or entry.name.endswith((".lock", ".tmp")):
                        continue
                    st = entry.stat()
                    parts.append((entry.name, st.st_size, st.st_mtime_ns))
                    if entry.is_dir():  # the usage log: one segment a day, appended to
                        parts.extend(_dir_token(Path(entry.path)))
        except OSError:
            parts.append(None)
        parts.sort(key=repr)
        return tuple(parts)


def _dir_token(directory: Path) -> list[tuple[str, int, int]]:
    out = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                st = entry.stat()
                out.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        pass
    return out
