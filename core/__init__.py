"""byok-console's core: integrations, credentials, storage, health, usage and limits.

Pure Python with no user interface; the console and the CLI reach everything through
`IntegrationsFacade`. See CONTRACT.md for the public API.
"""

from .enums import CredentialSource, HealthState, IntegrationStatus, ProviderType
from .errors import (
    CredentialError,
    DuplicateNameError,
    IntegrationError,
    InvalidTransitionError,
    StoreError,
    ValidationError,
)
from .facade import IntegrationsFacade, get_integrations_facade
from .models import (
    Alert,
    BatchResult,
    Decision,
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
)
from .providers import CATALOGUE, ProviderInfo, provider_info

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "Alert",
    "BatchResult",
    "CredentialError",
    "CredentialSource",
    "Decision",
    "DuplicateNameError",
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
    "LimitsStatusResult",
    "ProviderInfo",
    "ProviderType",
    "StoreError",
    "UsageRecordResult",
    "ValidationError",
    "get_integrations_facade",
    "provider_info",
]
