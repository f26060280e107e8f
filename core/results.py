"""Stored integration documents as the facade's pydantic results.

Apart from `integrations` so that reading the store (the console's dashboard) never needs
pydantic: only the facade, which returns these models, imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from core import validation as v
from core.enums import CredentialSource
from core.models import HealthStatusResult, IntegrationDetailResult, IntegrationSummaryResult
from core.timeutil import from_iso

Doc = Mapping[str, Any]
_TIMES = frozenset({"created_at", "updated_at", "health_checked_at"})


Names = tuple[tuple[str, ...], tuple[str, ...]]  # (stored as is, stored as ISO text)


def _names(model: type[BaseModel], *computed: str) -> Names:
    names = [k for k in model.model_fields if k not in computed]
    return tuple(k for k in names if k not in _TIMES), tuple(k for k in names if k in _TIMES)


# The fields of each result that a document stores under the same name. Picking by the result's
# names means that the document's sealed `credential` can never reach a result.
_SUMMARY = _names(IntegrationSummaryResult, "budget_period")
_DETAIL = _names(
    IntegrationDetailResult, "credential_hint", "credential_source", "config", *v.LIMIT_SETTINGS
)
_HEALTH = _names(HealthStatusResult, "integration_id")


def _values(doc: Doc, names: Names) -> dict[str, Any]:
    """The document's values of these fields, stored times parsed (an absent one is None)."""
    plain, times = names
    out = {k: doc.get(k) for k in plain}
    for k in times:
        out[k] = from_iso(doc.get(k))
    return out


def to_summary(doc: Doc) -> IntegrationSummaryResult:
    return IntegrationSummaryResult(
        **_values(doc, _SUMMARY), budget_period=v.setting(doc, "budget_period")
    )


def to_detail(doc: Doc) -> IntegrationDetailResult:
    cred = doc.get("credential") or {}
    return IntegrationDetailResult(
        **_values(doc, _DETAIL),
        credential_hint=cred.get("hint"),
        credential_source=cred.get("source", CredentialSource.NONE.value),
        config=dict(doc.get("config") or {}),
        **{k: v.setting(doc, k) for k in v.LIMIT_SETTINGS},
    )


def to_health_status(doc: Doc) -> HealthStatusResult:
    return HealthStatusResult(integration_id=doc["id"], **_values(doc, _HEALTH))
