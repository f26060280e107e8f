"""The console's read side: integration rows and their limits figures, fast to import and to call.

The home screen's first paint must not wait for pydantic, httpx, cryptography or genai-prices
(together ~250 ms of imports) nor hop to a thread once per row. A `Dashboard` reads the same
files as the facade through the same code (IntegrationRepo.find, limits.limit_figures) and
returns plain frozen dataclasses. It is synchronous: the console calls it from a thread worker.

It shares its open state with a facade, so one process parses the database once:
`IntegrationsFacade.dashboard` is the facade's own dashboard, and
`IntegrationsFacade.from_dashboard(dash)` builds a facade over an open one; both then hold the
same AtomicJSONStorage and UsageStore objects and see each other's writes at once. Writes of
other processes are seen on the next call (the store re-reads a file whose identity changed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core import validation as v
from core.enums import HealthState
from core.integrations.credentials import Vault
from core.integrations.repository import TABLE, IntegrationRepo, check_shape
from core.paths import default_db_path, side_file
from core.readmodels import LimitFigures, Row, to_row
from core.spend.reported import ReportedSpend
from core.storage import AtomicJSONStorage
from core.timeutil import Clock, to_us, utc_now
from core.usage.limits import limit_figures
from core.usage.store import open_usage_store

__all__ = ["Dashboard", "LimitFigures", "Row", "to_row"]

SCHEMA_VERSION = 1  # of the integrations file; the facade uses the same
Doc = Mapping[str, Any]


def count_by_health(rows: Iterable[Row]) -> dict[str, int]:
    """Rows per health state, every state a key (0 when none): a header's counts."""
    counts = dict.fromkeys((s.value for s in HealthState), 0)
    for row in rows:
        counts[row.health_state.value] += 1
    return counts


class Dashboard:
    """Rows, counts and limits figures of one database, read without pydantic.

    `db_path` follows the facade's rules (None: $BYOK_DB, else the user data dir) and the file is
    created, as the facade creates it, when missing; with `create=False` a missing file is a
    StoreError and nothing is created (the CLI's commands other than `add`).
    `clock` and `environ` as for the facade.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        durable: bool = True,
        create: bool = True,
    ) -> None:
        env: Mapping[str, str] = os.environ if environ is None else environ
        path = Path(db_path).expanduser() if db_path is not None else default_db_path(env)
        store = AtomicJSONStorage(
            path, schema=SCHEMA_VERSION, durable=durable, create=create, check=check_shape
        )
        if create:
            store.ensure_created()
        tick = clock or utc_now
        usage = open_usage_store(side_file(store.path, "usage"), clock=tick, durable=store.durable)
        # What the providers reported (byok sync): read for the limits, when it exists.
        self.reported = ReportedSpend(side_file(store.path, "spend"))
        # The vault only loads a key when a secret is sealed or opened, which reading never does.
        repo = IntegrationRepo(store, Vault(environ=env), tick, env)
        self.store, self.repo, self.usage = store, repo, usage
        self.clock, self.environ = tick, env
        # id -> (document, its Row): a Row costs ~5 µs to build and a filter keystroke at 10,000
        # integrations asks for thousands again; an unchanged document (the same object, or an
        # equal one after the file was re-read) reuses its Row.
        self._rows: dict[str, tuple[Doc, Row]] = {}
        self._rows_gen: object = None
        self._rows_lock = threading.Lock()

    @property
    def db_path(self) -> Path:
        return self.store.path

    # -- reading --------------------------------------------------------------------------------

    def rows(self, tenant_id: str, *, search: str | None = None) -> list[Row]:
        """Every integration of the tenant matching `search`, newest first: the order, the
        matching and the validation of `IntegrationsFacade.list_integrations`."""
        tenant, needle = v.tenant(tenant_id), v.search(search)
        docs = self.repo.find(tenant, search=needle)
        with self._rows_lock:
            cache = self._cached_rows()
            out: list[Row] = []
            for doc in docs:
                hit = cache.get(doc["id"])
                if hit is not None and (hit[0] is doc or hit[0] == doc):
                    if hit[0] is not doc:  # hold the live document, let the old snapshot go
                        cache[doc["id"]] = (doc, hit[1])
                    out.append(hit[1])
                else:
                    row = to_row(doc)
                    cache[doc["id"]] = (doc, row)
                    out.append(row)
            return out

    def _cached_rows(self) -> dict[str, tuple[Doc, Row]]:
        gen = self.store.generation()
        if gen != self._rows_gen:  # the file changed: forget deleted integrations
            live = self.store.snapshot().get(TABLE, {})
            self._rows = {k: hit for k, hit in self._rows.items() if k in live}
            self._rows_gen = gen
        return self._rows

    def tenants(self) -> list[str]:
        """The tenants that have integrations, sorted."""
        docs = self.store.snapshot().get(TABLE, {}).values()
        return sorted({doc["tenant_id"] for doc in docs})

    def counts(self, tenant_id: str) -> dict[str, int]:
        """How many of the tenant's integrations are in each health state (all four keys)."""
        return count_by_health(self.rows(tenant_id))

    def limits(self, tenant_id: str, ids: Iterable[str]) -> dict[str, LimitFigures]:
        """The limits figures (those of `get_limits_status`) of each id, in one read of the usage
        files. Ids of no integration of this tenant are left out."""
        tenant = v.tenant(tenant_id)
        wanted = [v.integration_id(iid) for iid in ids]
        docs = [doc for iid in wanted if (doc := self.repo.get(tenant, iid)) is not None]
        if not docs:
            return {}
        return limit_figures(self.usage, tenant, docs, to_us(self.clock()), self.reported)

    def generation(self) -> tuple[int, int, int, int] | None:
        """An identity of the committed integrations file: unchanged means nothing to repaint
        (None when it does not exist). Costs a `stat` unless the file changed."""
        return self.store.generation()

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the files (a facade built over this dashboard closes the same ones)."""
        self.usage.close()
        self.reported.close()
        self.store.close()
