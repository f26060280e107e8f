"""byok-console's core: integrations, credentials, storage, health, usage and limits.

Pure Python with no user interface; the console and the CLI reach everything through
`IntegrationsFacade`. See docs/api.md for the public API.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from core.enums import CredentialSource, Decision, HealthState, IntegrationStatus, ProviderType
    from core.errors import (
        CredentialError,
        DuplicateNameError,
        ErrorKind,
        IntegrationError,
        InvalidTransitionError,
        StoreError,
        ValidationError,
    )
    from core.facade import IntegrationsFacade, get_integrations_facade
    from core.models import (
        Alert,
        BatchResult,
        HealthCheckResult,
        HealthLogEntry,
        HealthStatusResult,
        ImportLineError,
        ImportReport,
        IntegrationDeleteResult,
        IntegrationDetailResult,
        IntegrationLifecycleResult,
        IntegrationListResult,
        IntegrationSummaryResult,
        LimitDecision,
        LimitsStatusResult,
        UsageRecordResult,
        WatchAlert,
    )
    from core.providers.catalogue import CATALOGUE, ProviderInfo, provider_info
    from core.readside import Dashboard, Row
    from core.usage.limits import LimitFigures

# Exports are loaded on first use (PEP 562): `import core.readside` must not pay for pydantic,
# httpx or the facade, since the console paints its first screen before needing any of them.
_HOMES = {
    "readside": ("Dashboard", "Row"),
    "enums": ("CredentialSource", "Decision", "HealthState", "IntegrationStatus", "ProviderType"),
    "errors": (
        "CredentialError",
        "DuplicateNameError",
        "ErrorKind",
        "IntegrationError",
        "InvalidTransitionError",
        "StoreError",
        "ValidationError",
    ),
    "facade": ("IntegrationsFacade", "get_integrations_facade"),
    "usage.limits": ("LimitFigures",),
    "models": (
        "Alert",
        "BatchResult",
        "HealthCheckResult",
        "HealthLogEntry",
        "HealthStatusResult",
        "ImportLineError",
        "ImportReport",
        "IntegrationDeleteResult",
        "IntegrationDetailResult",
        "IntegrationLifecycleResult",
        "IntegrationListResult",
        "IntegrationSummaryResult",
        "LimitDecision",
        "LimitsStatusResult",
        "UsageRecordResult",
        "WatchAlert",
    ),
    "providers.catalogue": ("CATALOGUE", "ProviderInfo", "provider_info"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "Alert",
    "BatchResult",
    "CredentialError",
    "CredentialSource",
    "Dashboard",
    "Decision",
    "DuplicateNameError",
    "ErrorKind",
    "HealthCheckResult",
    "HealthLogEntry",
    "HealthState",
    "HealthStatusResult",
    "ImportLineError",
    "ImportReport",
    "IntegrationDeleteResult",
    "IntegrationDetailResult",
    "IntegrationError",
    "IntegrationLifecycleResult",
    "IntegrationListResult",
    "IntegrationStatus",
    "IntegrationSummaryResult",
    "IntegrationsFacade",
    "InvalidTransitionError",
    "LimitDecision",
    "LimitFigures",
    "LimitsStatusResult",
    "ProviderInfo",
    "ProviderType",
    "Row",
    "StoreError",
    "UsageRecordResult",
    "ValidationError",
    "WatchAlert",
    "get_integrations_facade",
    "provider_info",
]
