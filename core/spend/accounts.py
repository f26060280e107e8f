"""Provider accounts (organisations) and their admin credentials, stored as keys are.

A raw credential is sealed with the Vault (its associated data names the account, so it does not
open as an integration's); a reference (`env:`/`file:`) is kept as such and resolved only when
used, with byok's own secrets refused. The credential is never shown: a listing has its hint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core import validation as v
from core.enums import CredentialSource, ProviderType
from core.errors import ValidationError
from core.integrations.credentials import (
    Vault,
    parse_credential,
    refusal,
    resolve,
    stored_form,
)
from core.spend.store import Doc, SpendStore
from core.timeutil import Clock, to_iso

# What each provider's account credential is, and where its admin API lives by default.
ACCOUNT_PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("an organization admin key (sk-admin-...)", "https://api.openai.com/v1"),
    "anthropic": ("an Admin API key (sk-ant-admin...)", "https://api.anthropic.com"),
    "openrouter": ("a management (provisioning) key", "https://openrouter.ai/api/v1"),
    "deepseek": ("the API key itself (balance only)", "https://api.deepseek.com"),
}


def _aad_id(account_id: str) -> str:
    return f"account:{account_id}"


@dataclass(frozen=True)
class Account:
    id: str
    tenant_id: str
    name: str
    provider: str
    base_url: str
    credential_hint: str | None
    credential_source: str
    created_at: str

    def public(self) -> dict[str, Any]:
        """What a listing shows: everything but the tenant (the credential is only its hint)."""
        return {k: v for k, v in asdict(self).items() if k != "tenant_id"}


def _account(key: str, doc: Mapping[str, Any]) -> Account:
    cred = doc.get("credential") or {}
    return Account(
        id=key,
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        provider=doc["provider"],
        base_url=doc["base_url"],
        credential_hint=cred.get("hint"),
        credential_source=cred.get("source", CredentialSource.NONE.value),
        created_at=doc.get("created_at", ""),
    )


class Accounts:
    def __init__(
        self,
        store: SpendStore,
        vault: Vault,
        clock: Clock,
        environ: Mapping[str, str],
        db_path: Path,
        first_seal: Callable[[], bool],
    ) -> None:
        self.store, self.vault, self.clock = store, vault, clock
        self.environ, self.db_path = environ, db_path
        self._first_seal = first_seal  # whether no integration's key is sealed yet

    def list(self, tenant_id: str) -> list[Account]:
        found = [
            _account(k, d)
            for k, d in self.store.table("accounts").items()
            if d["tenant_id"] == tenant_id
        ]
        return sorted(found, key=lambda a: a.name.lower())

    def get(self, tenant_id: str, name: str) -> Account:
        key = v.name_key(name)
        for account in self.list(tenant_id):
            if v.name_key(account.name) == key or account.id == name.strip():
                return account
        raise ValidationError(f"no account {name!r} in tenant {tenant_id!r}", "account")

    def add(
        self,
        tenant_id: str,
        name: str,
        provider: str,
        credential: str,
        base_url: str | None = None,
    ) -> Account:
        tenant = v.tenant(tenant_id)
        clean = v.name(name)
        if provider not in ACCOUNT_PROVIDERS:
            raise ValidationError(
                f"must be one of {', '.join(ACCOUNT_PROVIDERS)} (accounts need an admin API)",
                "provider",
            )
        if any(v.name_key(a.name) == v.name_key(clean) for a in self.list(tenant)):
            raise ValidationError(f"an account named {clean!r} exists already", "name")
        url = v.base_url(base_url or ACCOUNT_PROVIDERS[provider][1])
        spec = parse_credential(credential, ProviderType(provider))
        why = refusal(spec, self.vault.key_path, self.db_path)
        if why is not None:
            raise ValidationError(f"{why}; such a reference is never sent", "credential")
        account_id = uuid.uuid4().hex
        # A missing master key file is created only if nothing is sealed yet (as for keys): a new
        # key would hide the loss of the one that sealed the others.
        form = stored_form(
            spec, self.vault, tenant, _aad_id(account_id), may_create_key=self._nothing_sealed
        )
        doc: Doc = {
            "tenant_id": tenant,
            "name": clean,
            "provider": provider,
            "base_url": url,
            "credential": form,
            "created_at": to_iso(self.clock()),
        }
        self.store.put("accounts", account_id, doc)
        return _account(account_id, doc)

    def _nothing_sealed(self) -> bool:
        return self._first_seal() and not any(
            (d.get("credential") or {}).get("source") == CredentialSource.ENCRYPTED.value
            for d in self.store.table("accounts").values()
        )

    def remove(self, tenant_id: str, name: str) -> Account:
        account = self.get(tenant_id, name)
        self.store.remove_account(account.id)
        return account

    def secret(self, account: Account) -> str:
        """The admin credential, to send now (CredentialError, without it, when unusable)."""
        doc = self.store.table("accounts")[account.id]
        value = resolve(
            doc.get("credential"),
            self.vault,
            account.tenant_id,
            _aad_id(account.id),
            self.environ,
            db_path=self.db_path,
        )
        if value is None:  # every account provider needs one; a hand-edited file may lack it
            raise ValidationError(f"the account {account.name} has no credential", "credential")
        return value
