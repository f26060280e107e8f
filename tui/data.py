"""The console's reads from the core, shaped for screens; no business rules live here.

Everything here is async and is called from Textual workers, never from a handler.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.paths import side_file
from core.readside import Dashboard, LimitFigures, Row, count_by_health

if TYPE_CHECKING:
    from core import Alert, IntegrationsFacade, WatchAlert
    from core.watch.status import WatcherStatus


@dataclass
class Listing:
    """One read of the home table: every matching row, in the core's order (newest first)."""

    items: list[Row]
    total: int
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, items: list[Row]) -> Listing:
        return cls(items=items, total=len(items), counts=count_by_health(items))


class ConsoleData:
    """Reads for one tenant. Screens share one instance through the app.

    Two doors into the core: the `Dashboard` (rows and limit figures; light, so the first screen
    paints before pydantic, httpx and cryptography have loaded) and the full facade for
    everything else, built on first need over the dashboard's open files (`get_facade`).
    """

    def __init__(
        self,
        dashboard: Dashboard,
        tenant_id: str,
        facade: IntegrationsFacade | None = None,
    ) -> None:
        self.dashboard = dashboard
        self.tenant_id = tenant_id
        self._facade = facade
        self._facade_lock = asyncio.Lock()
        self._ahead: Future[tuple[tuple[Any, ...], list[Row], dict[str, LimitFigures]]] | None
        self._ahead = None
        self._ahead_limits: dict[str, LimitFigures] | None = None
        self.first_token: tuple[Any, ...] | None = None  # the change token of the first read

    # -- the first screen -------------------------------------------------------------------------

    def start_read_ahead(self, first_rows: int) -> None:
        """Start reading the first screen (every row, the limits of the first `first_rows`) in a
        thread now, while Textual starts: the two overlap, and the home screen's first paint
        has its rows. The change token is taken before the read, so a write that lands during
        it is still seen by the live refresh."""
        ahead: Future[tuple[tuple[Any, ...], list[Row], dict[str, LimitFigures]]] = Future()

        def read() -> None:
            if not ahead.set_running_or_notify_cancel():
                return
            try:
                token, items = self._first_rows(None)
                ids = [r.id for r in items[:first_rows]]
                ahead.set_result((token, items, self.dashboard.limits(self.tenant_id, ids)))
            except BaseException as exc:  # handed to whoever takes the result
                ahead.set_exception(exc)

        self._ahead = ahead
        threading.Thread(target=read, name="byok-read-ahead", daemon=True).start()

    def take_read_ahead(self) -> tuple[Listing, dict[str, LimitFigures]] | None:
        """The read-ahead's rows and limits if it has finished well (once), else None."""
        ahead = self._ahead
        if ahead is None or not ahead.done() or ahead.exception() is not None:
            return None
        self._ahead = None
        token, items, limits = ahead.result()
        self.first_token = token
        return Listing.of(items), limits

    @property
    def db_path(self) -> Path:
        return self.dashboard.db_path

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

    @property
    def facade_ready(self) -> IntegrationsFacade | None:
        """The facade if it has been built, else None."""
        return self._facade

    async def aclose(self) -> None:
        """Close the files: through the facade if it was built over the dashboard (it closes
        the shared ones), else the dashboard's."""
        if self._facade is not None:
            await self._facade.aclose()
        else:
            self.dashboard.close()

    async def get_facade(self) -> IntegrationsFacade:
        """The full facade, built once in a thread: importing it costs ~200 ms of CPU that the
        first paint does not wait for."""
        if self._facade is None:
            async with self._facade_lock:
                if self._facade is None:
                    self._facade = await asyncio.to_thread(self._build_facade)
        return self._facade

    def _build_facade(self) -> IntegrationsFacade:
        from core import IntegrationsFacade

        return IntegrationsFacade.from_dashboard(self.dashboard)

    async def listing(self, search: str | None = None) -> Listing:
        """Every row matching `search` (the core decides what matches), in the core's order."""
        ahead = self._ahead
        if ahead is not None and not search:  # still running: its answer is as fresh as ours
            try:
                # Shielded: a cancelled reload (the refresh tick cancels its worker) must not
                # cancel the read-ahead's future under its thread; the next reload takes it.
                token, items, limits = await asyncio.shield(asyncio.wrap_future(ahead))
            except Exception:
                pass  # read again below; a lasting error shows from there
            else:
                self._ahead, self._ahead_limits = None, limits
                self.first_token = self.first_token or token
                return Listing.of(items)
        self._ahead = None
        if self.first_token is None:
            token, items = await asyncio.to_thread(self._first_rows, search)
            self.first_token = token
        else:
            items = await asyncio.to_thread(self.dashboard.rows, self.tenant_id, search=search)
        return Listing.of(items)

    def _first_rows(self, search: str | None) -> tuple[tuple[Any, ...], list[Row]]:
        token = self.change_token()  # before the read: a write during it is not missed
        return token, self.dashboard.rows(self.tenant_id, search=search or None)

    async def limits(self, ids: Iterable[str]) -> dict[str, LimitFigures]:
        """Limit figures of several integrations, in one read of the usage files."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        ahead, self._ahead_limits = self._ahead_limits, None
        if ahead is not None and all(iid in ahead for iid in wanted):
            return {iid: ahead[iid] for iid in wanted}
        return await asyncio.to_thread(self.dashboard.limits, self.tenant_id, wanted)

    async def alerts(self, integration_id: str | None = None, limit: int = 100) -> list[Alert]:
        facade = await self.get_facade()
        return await facade.get_alerts(self.tenant_id, integration_id, limit=limit)

    async def every_alert(
        self, integration_id: str | None = None, limit: int = 100
    ) -> list[Alert | WatchAlert]:
        """The usage alerts and the watcher's, newest first."""
        facade = await self.get_facade()
        return await facade.get_every_alert(self.tenant_id, integration_id, limit=limit)

    async def health_log(self, integration_id: str | None = None, limit: int = 100) -> list[Any]:
        facade = await self.get_facade()
        return await facade.get_health_log(self.tenant_id, integration_id, limit=limit)

    async def spend(self) -> dict[str, Any]:
        """Spend as the providers report it (core.spend's overview): days, balances, accounts
        with their last sync, and per integration its link and figures."""
        facade = await self.get_facade()
        return await asyncio.to_thread(facade.spend().overview, self.tenant_id)
    async def watcher(self, now_us: int, items: int = 0) -> WatcherStatus | None:
        """The watcher of this database and the outbox of this tenant's alerts (None: no
        watcher ever ran here)."""
        from core.watch.status import watcher_status

        return await asyncio.to_thread(
            watcher_status, self.db_path, now_us, tenant_id=self.tenant_id, items=items
        )

    def change_token(self) -> tuple[Any, ...]:
        """A cheap identity of everything the console shows: the integrations file's generation
        plus the size and mtime of the side files (health log, usage rollups and usage log).

        A few stat calls; another process's write (the CLI, a cron probe, usage recording) changes
        it. Called from a worker thread by the live-refresh loop.
        """
        parts: list[Any] = [self.dashboard.generation()]
        path = self.db_path
        prefix = path.stem + "."
        watch_file = side_file(path, "watch").name  # the app's poll_watcher reads it
        try:
            with os.scandir(path.parent) as entries:
                for entry in entries:
                    if (
                        not entry.name.startswith(prefix)
                        or entry.name.endswith((".lock", ".tmp"))
                        or entry.name == watch_file  # renewed every round: read on its own
                    ):
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
