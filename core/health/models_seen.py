"""The model list of each integration's last successful probe, kept beside the database.

Why a side file: the console's form offers the provider's models as a select once a probe has
succeeded, also a probe run by another process (`byok test`, cron) or in an earlier session.
Kept out of the integrations file, which every write rewrites whole: lists of ~50-500 names for
thousands of integrations would make every write slower. A probe that returns the list already
stored writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.storage import AtomicJSONStorage
from core.timeutil import to_iso

TABLE = "models"
MAX_MODELS = 1000  # a provider with more (OpenRouter lists ~300) is cut, not refused
MAX_NAME = 200  # characters: a model id longer than this is no id


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a model-lists file, or None."""
    for iid, doc in data.get(TABLE, {}).items():
        models = doc.get("models")
        if (
            type(doc.get("tenant_id")) is not str
            or type(models) is not list
            or not all(type(m) is str for m in models)
        ):
            return f"the model list of {iid[:40]!r} has no tenant_id or is not a list of names"
    return None


class ModelLists:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.store = AtomicJSONStorage(path, schema=1, durable=durable, check=check_shape)

    def record(
        self,
        tenant_id: str,
        found: Iterable[tuple[str, list[str], Any]],
        *,
        keep: Callable[[str], bool] = lambda _iid: True,
    ) -> int:
        """Store (integration id, models, checked_at) of successful probes; one commit for all,
        none when every list is the one already stored. Returns how many lists changed.

        `keep(iid)` is asked under this file's lock whether the integration still exists as
        probed: a list is never stored for one deleted (or re-keyed) meanwhile. Since `forget`
        takes the same lock after the delete's commit, no list outlives its integration.
        """
        wanted = {iid: (_clean(models), at) for iid, models, at in found if models}
        table = self.store.snapshot().get(TABLE, {})
        if all(_same(table.get(iid), tenant_id, models) for iid, (models, _) in wanted.items()):
            return 0
        changed = 0
        with self.store.transaction(create=False):
            data = self.store.read() or {}
            table = data.setdefault(TABLE, {})
            for iid, (models, at) in wanted.items():
                if not _same(table.get(iid), tenant_id, models) and keep(iid):
                    table[iid] = {"tenant_id": tenant_id, "models": models, "at": to_iso(at)}
                    changed += 1
            if changed:
                self.store.write(data)
        return changed

    def get(self, tenant_id: str, integration_id: str) -> list[str]:
        doc = self.store.snapshot().get(TABLE, {}).get(integration_id)
        if doc is None or doc.get("tenant_id") != tenant_id:
            return []
        return list(doc.get("models", ()))

    def forget(self, integration_id: str) -> None:
        """Drop a deleted integration's list (its id is never reused). Always under the lock,
        even when the list is not there yet: a `record` may be about to write it."""
        with self.store.transaction(create=False):
            data = self.store.read() or {}
            if data.get(TABLE, {}).pop(integration_id, None) is not None:
                self.store.write(data)

    def close(self) -> None:
        self.store.close()


def _clean(models: Iterable[str]) -> list[str]:
    names = dict.fromkeys(m for m in models if isinstance(m, str) and 0 < len(m) <= MAX_NAME)
    return sorted(names, key=str.casefold)[:MAX_MODELS]


def _same(doc: Any, tenant_id: str, models: list[str]) -> bool:
    return doc is not None and doc.get("tenant_id") == tenant_id and doc.get("models") == models
