"""Integration records: the rules of create, update, delete and the lifecycle, over the store.

Synchronous on purpose: the facade runs these calls in a worker thread, so file I/O and fsync never
block an event loop. Documents are keyed by integration id in the `integrations` table.
"""

from __future__ import annotations

import getpass
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from core import validation as v
from core.enums import CredentialSource, HealthState, IntegrationStatus, ProviderType
from core.errors import DuplicateNameError, InvalidTransitionError, ValidationError
from core.integrations.credentials import (
    CredentialSpec,
    Vault,
    parse_credential,
    refusal,
    resolve,
    stored_form,
)
from core.providers.catalogue import provider_info
from core.storage import AtomicJSONStorage
from core.timeutil import BUDGET_PERIODS, Clock, to_iso

TABLE = "integrations"
CREATE_FIELDS = frozenset({"name", "provider_type", "created_by", *v.UPDATABLE})
# update's fields: the contract's, plus config_patch (settings merged into the stored config under
# the lock, so two edits of different settings cannot lose each other)
PATCH_FIELDS = frozenset({*v.UPDATABLE, "config_patch"})
Doc = Mapping[str, Any]
HEX_DIGITS = frozenset("0123456789abcdef")  # ids are uuid4().hex

_PROVIDER_VALUES = frozenset(p.value for p in ProviderType)
_STATUS_VALUES = frozenset(s.value for s in IntegrationStatus)
_HEALTH_VALUES = frozenset(h.value for h in HealthState)
_PERIODS = frozenset(BUDGET_PERIODS)
_REQUIRED = (
    "id", "tenant_id", "name", "name_key", "search_text", "provider_type", "status",
    "health_state", "default_model", "created_at", *v.LIMIT_FIELDS,
)  # fmt: skip


def check_shape(data: Mapping[str, Any]) -> str | None:
    """What is wrong with the documents of an integrations file, or None: the readers index and
    convert these fields without further checks (AtomicJSONStorage runs this on every parse).

    One expression per document, as it runs for all of them (10,000: ~12 ms beside a ~75 ms
    parse).
    Values are never quoted, as a damaged document may hold a secret in any field.
    """
    iso = datetime.fromisoformat
    for doc_id, doc in data.get(TABLE, {}).items():
        try:
            if (
                doc["id"] == doc_id
                and type(doc["tenant_id"]) is str
                and type(doc["name"]) is str
                and type(doc["name_key"]) is str
                and type(doc["search_text"]) is str
                and doc["provider_type"] in _PROVIDER_VALUES
                and doc["status"] in _STATUS_VALUES
                and doc["health_state"] in _HEALTH_VALUES
                and type(doc["default_model"] or "") is str
                and iso(doc["created_at"])
                and (not (checked := doc.get("health_checked_at")) or iso(checked))
                and type(doc.get("health_latency_ms") or 0) is int
                and type(doc["budget_limit_cents"]) is int
                and type(doc["token_limit_month"]) is int
                and type(doc["rate_limit_rpm"]) is int
                and doc.get("budget_period", "month") in _PERIODS
                and type(doc.get("alert_thresholds") or []) is list
                and all(type(t) is int for t in doc.get("alert_thresholds") or ())
                and type(doc.get("credential") or {}) is dict
                and type(doc.get("config") or {}) is dict
            ):
                continue
        except (KeyError, TypeError, ValueError):
            pass
        missing = [key for key in _REQUIRED if key not in doc]
        what = f"has no {', '.join(missing)}" if missing else "has a field of the wrong type"
        return f"the integration {doc_id[:40]!r} {what}"
    return None


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers: not worth failing a create for
        return None


def _sort_key(doc: Doc) -> tuple[str, str]:
    return (doc["created_at"], doc["id"])


class IntegrationRepo:
    def __init__(
        self, store: AtomicJSONStorage, vault: Vault, clock: Clock, environ: Mapping[str, str]
    ):
        self.store = store
        self.vault = vault
        self.clock = clock
        self.environ = environ
        self._index_lock = threading.Lock()
        self._index_gen: object = object()
        self._index: dict[str, list[Doc]] = {}

    # -- reading --------------------------------------------------------------------------------

    def _table(self) -> Mapping[str, Doc]:
        return self.store.snapshot().get(TABLE, {})

    def tenant_docs(self, tenant_id: str) -> list[Doc]:
        """The tenant's documents, newest first; rebuilt only when the file changes."""
        gen = self.store.generation()
        with self._index_lock:
            if gen != self._index_gen or gen is None:
                index: dict[str, list[Doc]] = {}
                for doc in self._table().values():
                    index.setdefault(doc["tenant_id"], []).append(doc)
                for docs in index.values():
                    docs.sort(key=_sort_key, reverse=True)
                self._index, self._index_gen = index, gen
            return self._index.get(tenant_id, [])

    def tenants(self) -> list[str]:
        self.tenant_docs("")
        return sorted(self._index)

    def get(self, tenant_id: str, integration_id: str) -> Doc | None:
        doc = self._table().get(integration_id)
        return doc if doc is not None and doc["tenant_id"] == tenant_id else None

    def find(
        self,
        tenant_id: str,
        *,
        status: IntegrationStatus | None = None,
        provider_type: ProviderType | None = None,
        search: str | None = None,
    ) -> list[Doc]:
        docs: Iterable[Doc] = self.tenant_docs(tenant_id)
        if status is not None:
            docs = (d for d in docs if d["status"] == status.value)
        if provider_type is not None:
            docs = (d for d in docs if d["provider_type"] == provider_type.value)
        if search:
            docs = (d for d in docs if search in d["search_text"])
        return list(docs)

    def resolve(self, tenant_id: str, ref: str) -> Doc | None:
        """The integration a person means by `ref`: its id, else its name (case-insensitive,
        surrounding spaces ignored), else a unique start of its id of 6 or more hex digits (the
        80-column list shows ids shortened, as git shows short ids). None when nothing matches;
        ValidationError (field `ref`) when the start fits several ids."""
        text = ref.strip()
        doc = self.get(tenant_id, text) if text else None
        if doc is not None or not text:
            return doc
        key = v.name_key(text)
        docs = self.tenant_docs(tenant_id)
        named = next((d for d in docs if d["name_key"] == key), None)
        if named is not None or len(key) < 6 or not set(key) <= HEX_DIGITS:
            return named
        prefixed = [d for d in docs if d["id"].startswith(key)]
        if len(prefixed) > 1:
            raise ValidationError(f"{ref!r} is the start of several ids: give more of it", "ref")
        return prefixed[0] if prefixed else None

    def secret(self, doc: Doc) -> str | None:
        """The credential to send now. Raises CredentialError (message without the secret)."""
        return resolve(
            doc.get("credential"),
            self.vault,
            doc["tenant_id"],
            doc["id"],
            self.environ,
            db_path=self.store.path,
        )

    def _credential(self, raw: object, kind: ProviderType) -> CredentialSpec:
        """parse_credential, refusing a reference to byok's own secrets (ValidationError)."""
        spec = parse_credential(raw, kind)
        why = refusal(spec, self.vault.key_path, self.store.path)
        if why is not None:
            raise ValidationError(f"{why}; such a reference is never sent", "credential")
        return spec

    def _first_seal(self) -> bool:
        """Whether no secret is sealed in the database yet: only then may a missing master key
        file be created (a new key would not open the sealed ones)."""
        return not any(
            (doc.get("credential") or {}).get("source") == CredentialSource.ENCRYPTED.value
            for doc in self._table().values()
        )

    # -- writing --------------------------------------------------------------------------------

    def build(
        self,
        tenant_id: str,
        *,
        name: object,
        provider_type: object,
        credential: object = "",
        default_model: object = None,
        config: object = None,
        budget_limit_cents: object = 0,
        token_limit_month: object = 0,
        rate_limit_rpm: object = 0,
        limits_source: object = "max",
        budget_period: object = "month",
        alert_thresholds: object = (80, 100),
        created_by: object = None,
    ) -> Doc:
        errors: dict[str, str] = {}
        fields: dict[str, Any] = {}
        kind = _collect(errors, fields, "provider_type", lambda: v.provider(provider_type))
        _collect(errors, fields, "name", lambda: v.name(name))
        _collect(errors, fields, "default_model", lambda: v.model(default_model))
        _collect(errors, fields, "created_by", lambda: v.created_by(created_by))
        _collect(errors, fields, "limits_source", lambda: v.limits_source(limits_source))
        for field, value in zip(
            v.LIMIT_FIELDS, (budget_limit_cents, token_limit_month, rate_limit_rpm), strict=True
        ):
            _collect(errors, fields, field, lambda f=field, x=value: v.limit(f, x))
        _collect(errors, fields, "budget_period", lambda: v.budget_period(budget_period))
        _collect(errors, fields, "alert_thresholds", lambda: v.alert_thresholds(alert_thresholds))
        spec = cfg = None
        if kind is not None:
            spec = _collect(errors, {}, "credential", lambda: self._credential(credential, kind))
            cfg = _collect(errors, {}, "config", lambda: v.config(kind, config))
        if errors:
            raise ValidationError(errors)
        assert kind is not None and spec is not None and cfg is not None
        iid = uuid.uuid4().hex
        # seal before taking the lock
        cred = stored_form(spec, self.vault, tenant_id, iid, may_create_key=self._first_seal)
        now = to_iso(self.clock())
        doc = {
            "id": iid,
            "tenant_id": tenant_id,
            "name": fields["name"],
            "name_key": v.name_key(fields["name"]),
            "provider_type": kind.value,
            "status": IntegrationStatus.CREATED.value,
            "health_state": HealthState.UNKNOWN.value,
            "health_checked_at": None,
            "health_message": None,
            "health_reason": None,
            "health_latency_ms": None,
            "default_model": fields["default_model"],
            "budget_limit_cents": fields["budget_limit_cents"],
            "token_limit_month": fields["token_limit_month"],
            "rate_limit_rpm": fields["rate_limit_rpm"],
            "limits_source": fields["limits_source"],
            "budget_period": fields["budget_period"],
            "alert_thresholds": fields["alert_thresholds"],
            "created_at": now,
            "updated_at": None,
            "created_by": fields["created_by"] if created_by is not None else _os_user(),
            "credential": cred,
            "config": cfg,
        }
        doc["search_text"] = _search_text(doc)
        return doc

    def create(self, tenant_id: str, **fields: Any) -> Doc:
        """Validate, seal the credential, then commit the new document durably."""
        return self.create_many(tenant_id, [fields])[0]

    def create_many(self, tenant_id: str, items: Iterable[Mapping[str, Any]]) -> list[Doc]:
        """Create several at once: all or nothing, in one durable commit (imports, demo, bench)."""
        docs: list[Doc] = []
        errors: dict[str, str] = {}
        batch = list(items)
        for index, item in enumerate(batch):
            if not isinstance(item, Mapping):
                errors[f"items[{index}]"] = "must be an object of integration fields"
                continue
            prefix = f"items[{index}]." if len(batch) > 1 else ""
            unknown = sorted(str(k) for k in item if k not in CREATE_FIELDS)
            if unknown:
                errors[prefix + "fields"] = f"unknown field(s) {', '.join(unknown)}"
                continue
            try:
                docs.append(self.build(tenant_id, **item))
            except ValidationError as exc:
                errors.update({prefix + k: m for k, m in exc.errors.items()})
        if errors:
            raise ValidationError(errors)

        def change(table: Mapping[str, Doc]) -> dict[str, Doc]:
            taken = {d["name_key"] for d in table.values() if d["tenant_id"] == tenant_id}
            new: dict[str, Doc] = {}
            for doc in docs:
                if doc["name_key"] in taken:
                    raise DuplicateNameError(doc["name"])
                taken.add(doc["name_key"])
                new[doc["id"]] = dict(doc)
            return new

        self.store.patch(TABLE, change)
        return docs

    def update(
        self,
        tenant_id: str,
        integration_id: str,
        changes: Mapping[str, object],
        expected: Mapping[str, object] | None = None,
    ) -> Doc | None:
        """Change the fields in `changes`, and only those, in one locked read-modify-write.

        `config_patch` merges settings into the stored config inside the transaction (None or ""
        removes one); `config` replaces the whole mapping. `expected` maps fields (and
        `config.KEY`) to the values the caller saw when its edit began: when another writer has
        changed one of them since, to something else than this change's value, nothing is saved
        and a ValidationError names the field (the optimistic check of the console's form).
        """
        if not changes:
            raise ValidationError("give at least one field to change", "fields")
        v.known(changes, PATCH_FIELDS, "fields", "field")
        if expected is not None and not isinstance(expected, Mapping):
            raise ValidationError("must be a mapping of field to the value seen", "expected")
        if expected:
            v.known((k for k in expected if not str(k).startswith("config.")), v.UPDATABLE,
                    "expected", "field")  # fmt: skip
        if "config" in changes and "config_patch" in changes:
            raise ValidationError("give config or config_patch, not both", "config_patch")
        patch = changes.get("config_patch")
        if patch is not None and not isinstance(patch, Mapping):
            raise ValidationError("must be an object (a mapping of settings)", "config_patch")
        current = self.get(tenant_id, integration_id)
        if current is None:
            return None
        kind = ProviderType(current["provider_type"])
        errors: dict[str, str] = {}
        fields: dict[str, Any] = {}
        if "name" in changes:
            _collect(errors, fields, "name", lambda: v.name(changes["name"]))
        if "default_model" in changes:
            _collect(errors, fields, "default_model", lambda: v.model(changes["default_model"]))
        for field in v.LIMIT_FIELDS:
            if field in changes:
                _collect(errors, fields, field, lambda f=field: v.limit(f, changes[f]))
        if "limits_source" in changes:
            _collect(errors, fields, "limits_source",
                     lambda: v.limits_source(changes["limits_source"]))  # fmt: skip
        if "budget_period" in changes:
            _collect(errors, fields, "budget_period",
                     lambda: v.budget_period(changes["budget_period"]))  # fmt: skip
        if "alert_thresholds" in changes:
            _collect(errors, fields, "alert_thresholds",
                     lambda: v.alert_thresholds(changes["alert_thresholds"]))  # fmt: skip
        if "config" in changes:
            _collect(errors, fields, "config", lambda: v.config(kind, changes["config"]))
        spec = None
        if "credential" in changes:
            spec = _collect(
                errors, {}, "credential", lambda: self._credential(changes["credential"], kind)
            )
        if errors:
            raise ValidationError(errors)
        if spec is not None:
            fields["credential"] = stored_form(
                spec, self.vault, tenant_id, integration_id, may_create_key=self._first_seal
            )
        if "name" in fields:
            fields["name_key"] = v.name_key(fields["name"])

        def change(table: Mapping[str, Doc], doc: Doc) -> Doc:
            if patch is not None:  # merged with what is stored now, not with what was read
                fields["config"] = v.config(kind, {**(doc.get("config") or {}), **patch})
            if expected:
                _check_expected(doc, expected, fields)
            if "name_key" in fields:
                _check_unique(table, tenant_id, fields["name_key"], integration_id, fields["name"])
            reprobe = "credential" in fields or (
                "config" in fields and fields["config"] != doc.get("config")
            )
            if reprobe:  # a new key or endpoint makes the last probe meaningless
                fields.update(_health_reset())
                if "credential" in fields and doc["status"] == IntegrationStatus.ERROR.value:
                    fields.update(_error_cleared(IntegrationStatus.DISABLED))
            fields["updated_at"] = to_iso(self.clock())
            merged = {**doc, **fields}
            return {**merged, "search_text": _search_text(merged)}

        return self._change_one(tenant_id, integration_id, change)

    def delete(self, tenant_id: str, integration_id: str) -> bool:
        if self.get(tenant_id, integration_id) is None:
            return False  # no lock (and no file rewrite) for a miss

        def change(table: Mapping[str, Doc]) -> dict[str, Doc | None]:
            # the sealed secret goes with the document
            return {integration_id: None} if _own(table, tenant_id, integration_id) else {}

        return bool(self.store.patch(TABLE, change))

    def set_status(
        self, tenant_id: str, integration_id: str, target: IntegrationStatus
    ) -> tuple[Doc, str] | None:
        if self.get(tenant_id, integration_id) is None:
            return None
        said: list[str] = []

        def change(_table: Mapping[str, Doc], doc: Doc) -> Doc | None:
            current = IntegrationStatus(doc["status"])
            if target is IntegrationStatus.ENABLED and current is IntegrationStatus.ERROR:
                # Quote why the status is error, not the last probe's message: they can differ
                # (an edit of the endpoint resets the health and keeps the error).
                why = doc.get("error_message") or "a probe could not read its credential"
                raise InvalidTransitionError(
                    f"{doc['name']} cannot be enabled while its status is error ({why}); "
                    "update the credential, or probe it from a process that can read it "
                    "(a probe that reaches the provider clears the error)"
                )
            if current is target:
                said.append(f"{doc['name']} is already {target.value}")
                return None
            fields: dict[str, Any] = {"status": target.value, "updated_at": to_iso(self.clock())}
            if current is IntegrationStatus.ERROR:
                fields.update(_error_cleared(target))
            said.append(f"{doc['name']} {current.value} -> {target.value}")
            return {**doc, **fields}

        doc = self._change_one(tenant_id, integration_id, change)
        return (doc, said[0]) if doc is not None else None

    def apply_health(
        self,
        tenant_id: str,
        integration_id: str,
        *,
        state: HealthState,
        reason: str,
        message: str | None,
        latency_ms: int | None,
        checked_at: str,
        credential_unusable: bool = False,
        extra: Mapping[str, Any] | None = None,
        basis: str | None = None,
    ) -> Doc | None:
        """Store a probe's outcome on the integration (see apply_health_many)."""
        outcome = {
            "integration_id": integration_id,
            "state": state,
            "reason": reason,
            "message": message,
            "latency_ms": latency_ms,
            "checked_at": checked_at,
            "credential_unusable": credential_unusable,
            "extra": extra,
            "basis": basis,
        }
        return self.apply_health_many(tenant_id, [outcome])[0]

    def apply_health_many(
        self, tenant_id: str, outcomes: Iterable[Mapping[str, Any]]
    ) -> list[Doc | None]:
        """apply_health for many probes in ONE commit (check_many: one file rewrite, not 500).

        Each outcome holds integration_id plus apply_health's keyword arguments. Under the lock:
        - an outcome whose `basis` (probe_basis of the document the probe read) is no longer the
          integration's is stale (the credential or endpoint changed while it ran) and is not
          applied; neither is one of an integration deleted meanwhile. Both give None.
        - a credential that could not be read sets status `error`, remembering the status it
          replaces and why; any other outcome (the probe had a credential to send) clears the
          error back to that status, so one process that lacks an env variable or the master
          key does not block the integration for the processes that have them.
        """
        batch = list(outcomes)
        applied: list[Doc | None] = []

        def change(table: Mapping[str, Doc]) -> dict[str, Doc]:
            # New documents for the probed ones only, committed once: TinyDB's Table.update
            # rebuilds the whole table on every call (a 125-result commit at 50,000
            # integrations cost 4.6 s that way), and a private copy of the file costs a parse.
            applied.clear()
            changed: dict[str, Doc] = {}
            for item in batch:
                iid = item["integration_id"]
                doc = changed.get(iid) or table.get(iid)
                fields = health_fields(doc, tenant_id, item)
                if doc is None or fields is None:
                    applied.append(None)
                    continue
                changed[iid] = {**doc, **fields}
                applied.append(dict(changed[iid]))
            return changed

        self.store.patch(TABLE, change)
        return applied

    def _change_one(
        self,
        tenant_id: str,
        integration_id: str,
        change: Callable[[Mapping[str, Doc], Doc], Doc | None],
    ) -> Doc | None:
        """One locked read-modify-write of the tenant's document, re-read under the lock:
        `change(table, doc)` gives the new document, or None to keep it as it is. The document
        after it (a copy), or None when it was not found (or is another tenant's)."""
        found: list[Doc] = []

        def one(table: Mapping[str, Doc]) -> dict[str, Doc]:
            doc = _own(table, tenant_id, integration_id)
            if doc is None:
                return {}
            new = change(table, doc)
            found.append(doc if new is None else new)
            return {} if new is None else {integration_id: new}

        self.store.patch(TABLE, one)
        return dict(found[0]) if found else None


def _own(table: Mapping[str, Doc], tenant_id: str, integration_id: str) -> Doc | None:
    doc = table.get(integration_id)
    return doc if doc is not None and doc["tenant_id"] == tenant_id else None


def _check_unique(
    table: Mapping[str, Doc], tenant_id: str, key: str, own_id: str | None, shown: str
) -> None:
    # `table` is the locked, latest commit (store.patch), so the check cannot race.
    for doc_id, doc in table.items():
        if doc["tenant_id"] == tenant_id and doc["name_key"] == key and doc_id != own_id:
            raise DuplicateNameError(shown)


def _collect(errors: dict[str, str], out: dict[str, Any], field: str, check: Any) -> Any:
    try:
        value = check()
    except ValidationError as exc:
        errors.update(exc.errors)
        return None
    out[field] = value
    return value


def health_fields(
    doc: Doc | None, tenant_id: str, item: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The fields one probe outcome sets on its integration's document (see apply_health_many),
    or None when it does not apply: no such integration of the tenant, or a stale outcome."""
    basis = item.get("basis")
    if (
        doc is None
        or doc["tenant_id"] != tenant_id
        or (basis is not None and probe_basis(doc) != basis)
    ):
        return None
    state: HealthState = item["state"]
    fields: dict[str, Any] = {
        "health_state": state.value,
        "health_reason": item["reason"],
        "health_message": item.get("message"),
        "health_latency_ms": item.get("latency_ms"),
        "health_checked_at": item["checked_at"],
        **(item.get("extra") or {}),
    }
    status = doc["status"]
    if item.get("credential_unusable"):
        fields["error_message"] = item.get("message")
        if status != IntegrationStatus.ERROR.value:
            fields["status"] = IntegrationStatus.ERROR.value
            fields["status_before_error"] = status
    elif status == IntegrationStatus.ERROR.value:
        before = doc.get("status_before_error")
        fields.update(
            _error_cleared(
                IntegrationStatus(before)
                if before in _STATUS_VALUES and before != status
                else IntegrationStatus.DISABLED
            )
        )
    return fields


def probe_basis(doc: Doc) -> str:
    """What a probe's result is about: the stored credential and endpoint settings. A sealed
    credential is re-encrypted with a new nonce by every change, so a rotation always shows."""
    raw = orjson.dumps(
        [doc.get("credential"), doc.get("config") or {}], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(raw).hexdigest()[:16]


def _check_expected(doc: Doc, expected: Mapping[str, object], fields: Mapping[str, Any]) -> None:
    """Refuse the update when a field the caller saw has been changed by someone else since (to
    another value than this update's): nothing of the update is saved."""
    conflicts: dict[str, str] = {}
    for name, seen in expected.items():
        field = str(name)
        if field.startswith("config."):
            key = field.removeprefix("config.")
            now = (doc.get("config") or {}).get(key)
            wanted = fields["config"].get(key) if "config" in fields else now
        elif field == "credential":  # compared by its hint: the secret is never read back
            now = (doc.get("credential") or {}).get("hint")
            wanted = now if "credential" not in fields else fields["credential"].get("hint")
        elif field in v.LIMIT_SETTINGS:
            now = v.setting(doc, field)
            wanted = fields.get(field, now)
        else:
            now = doc.get(field)
            wanted = fields.get(field, now)
        if seen in ("", None) and now in ("", None):
            continue  # empty and absent are the same setting
        if now != seen and now != wanted:
            shown = "empty" if now in ("", None) else repr(now)
            conflicts[field] = (
                f"was changed by someone else meanwhile (it is now {shown}); nothing was saved: "
                "reload to see the current values"
            )
    if conflicts:
        raise ValidationError(conflicts)


def _error_cleared(status: IntegrationStatus) -> dict[str, Any]:
    """The fields that leave status `error` for `status`."""
    return {"status": status.value, "status_before_error": None, "error_message": None}


def _health_reset() -> dict[str, Any]:
    return {
        "health_state": HealthState.UNKNOWN.value,
        "health_reason": None,
        "health_message": None,
        "health_latency_ms": None,
        "health_checked_at": None,
    }


def _search_text(doc: Doc) -> str:
    info = provider_info(doc["provider_type"])
    parts = (doc["name"], doc["provider_type"], info.display_name, doc.get("default_model") or "")
    return "\x1f".join(parts).casefold()
