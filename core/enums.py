"""String-valued enums of the public contract (so `HealthState.HEALTHY == "healthy"`)."""

from __future__ import annotations

from enum import StrEnum


class ProviderType(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    AZURE_OPENAI = "azure_openai"
    GOOGLE = "google"
    MISTRAL = "mistral"
    COHERE = "cohere"
    GROQ = "groq"
    TOGETHER = "together"
    DEEPSEEK = "deepseek"
    OPENROUTER = "openrouter"
    BEDROCK = "bedrock"
    OLLAMA = "ollama"
    CUSTOM = "custom"


class IntegrationStatus(StrEnum):
    CREATED = "created"
    ENABLED = "enabled"
    DISABLED = "disabled"
    ERROR = "error"


class HealthState(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILING = "failing"


class CredentialSource(StrEnum):
    ENCRYPTED = "encrypted"
    ENV = "env"
    FILE = "file"
    NONE = "none"


class Decision(StrEnum):
    """check_limits' answer, most severe last."""

    ALLOWED = "allowed"
    WARNED = "warned"
    THROTTLED = "throttled"
    BLOCKED = "blocked"
