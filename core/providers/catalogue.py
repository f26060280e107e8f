"""The provider catalogue: what byok knows about each provider, as data.

The console's provider select, the CLI's help and the probes all read from here, so a provider's
name, endpoint and key page are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.enums import ProviderType


@dataclass(frozen=True)
class ProviderInfo:
    type: ProviderType
    display_name: str
    default_base_url: str | None  # the official SDK's default host; see probes.VERSION_PATHS
    auth: str  # "bearer", "x-api-key", "api-key", "x-goog-api-key" or "none"
    key_url: str | None
    suggested_models: tuple[str, ...] = field(default_factory=tuple)
    needs_key: bool = True
    needs_base_url: bool = False
    needs_api_version: bool = False
    needs_region: bool = False
    docs_url: str | None = None


_CATALOGUE = (
    ProviderInfo(
        ProviderType.OPENAI,
        "OpenAI",
        "https://api.openai.com/v1",
        "bearer",
        "https://platform.openai.com/api-keys",
        ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o4-mini"),
        docs_url="https://platform.openai.com/docs/api-reference/models/list",
    ),
    ProviderInfo(
        ProviderType.ANTHROPIC,
        "Anthropic",
        "https://api.anthropic.com",
        "x-api-key",
        "https://console.anthropic.com/settings/keys",
        ("claude-sonnet-4-5", "claude-opus-4-1", "claude-3-5-haiku-latest"),
        docs_url="https://docs.anthropic.com/en/api/models-list",
    ),
    ProviderInfo(
        ProviderType.AZURE_OPENAI,
        "Azure OpenAI",
        None,
        "api-key",
        "https://portal.azure.com/#view/Microsoft_Azure_ProjectOxford/CognitiveServicesHub",
        ("gpt-4o", "gpt-4o-mini", "gpt-4.1"),
        needs_base_url=True,
        needs_api_version=True,
        docs_url="https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list",
    ),
    ProviderInfo(
        ProviderType.GOOGLE,
        "Google Gemini",
        "https://generativelanguage.googleapis.com",
        "x-goog-api-key",
        "https://aistudio.google.com/app/apikey",
        ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash"),
        docs_url="https://ai.google.dev/api/models#method:-models.list",
    ),
    ProviderInfo(
        ProviderType.MISTRAL,
        "Mistral",
        "https://api.mistral.ai/v1",
        "bearer",
        "https://console.mistral.ai/api-keys",
        ("mistral-large-latest", "mistral-small-latest", "codestral-latest"),
        docs_url="https://docs.mistral.ai/api/#tag/models",
    ),
    ProviderInfo(
        ProviderType.COHERE,
        "Cohere",
        "https://api.cohere.com",
        "bearer",
        "https://dashboard.cohere.com/api-keys",
        ("command-r-plus", "command-r", "command-a-03-2025"),
        docs_url="https://docs.cohere.com/reference/checkapikey",
    ),
    ProviderInfo(
        ProviderType.GROQ,
        "Groq",
        "https://api.groq.com/openai/v1",
        "bearer",
        "https://console.groq.com/keys",
        ("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
        docs_url="https://console.groq.com/docs/api-reference#models-list",
    ),
    ProviderInfo(
        ProviderType.TOGETHER,
        "Together AI",
        "https://api.together.ai/v1",  # together 2.x and 3.x; 1.x used api.together.xyz
        "bearer",
        "https://api.together.ai/settings/api-keys",
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepseek-ai/DeepSeek-V3"),
        docs_url="https://docs.together.ai/reference/models-1",
    ),
    ProviderInfo(
        ProviderType.DEEPSEEK,
        "DeepSeek",
        "https://api.deepseek.com",
        "bearer",
        "https://platform.deepseek.com/api_keys",
        ("deepseek-chat", "deepseek-reasoner"),
        docs_url="https://api-docs.deepseek.com/api/list-models",
    ),
    ProviderInfo(
        ProviderType.OPENROUTER,
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        "bearer",
        "https://openrouter.ai/settings/keys",
        ("openai/gpt-4o", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro"),
        docs_url="https://openrouter.ai/docs/api-reference/get-current-api-key",
    ),
    ProviderInfo(
        ProviderType.BEDROCK,
        "Amazon Bedrock",
        None,
        "bearer",
        "https://console.aws.amazon.com/bedrock/home#/api-keys",
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.nova-pro-v1:0"),
        needs_region=True,
        docs_url="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html",
    ),
    ProviderInfo(
        ProviderType.OLLAMA,
        "Ollama",
        "http://127.0.0.1:11434",  # the ollama SDK's default host (Ollama listens there)
        "none",
        None,
        ("llama3.2", "qwen2.5", "mistral"),
        needs_key=False,
        docs_url="https://github.com/ollama/ollama/blob/main/docs/api.md#list-local-models",
    ),
    ProviderInfo(
        ProviderType.CUSTOM,
        "Custom (OpenAI-compatible)",
        None,
        "bearer",
        None,
        (),
        needs_key=False,
        needs_base_url=True,
    ),
)

CATALOGUE: dict[ProviderType, ProviderInfo] = {info.type: info for info in _CATALOGUE}


def provider_info(kind: ProviderType | str) -> ProviderInfo:
    return CATALOGUE[ProviderType(kind)]
