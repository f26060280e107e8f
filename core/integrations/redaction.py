"""Scrubbing secrets out of text that came from a provider before anyone sees it.

Providers sometimes echo the key back ("Incorrect API key provided: sk-abc***wxyz", or the whole
key in a proxy's error page). Everything a probe turns into a message or a log entry passes through
`redact`, which removes the exact secret, any run of characters that is a piece of it, and anything
shaped like a key, then shortens the text so a large HTML error page cannot flood the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"
DEFAULT_LIMIT = 300

# Shapes of credentials seen in provider answers; masked whoever they belong to.
_KEY_SHAPES = re.compile(
    r"""
    (?:sk|pk|rk)-[A-Za-z0-9_\-\*\.]{4,}      # OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-v1-)
    | AIza[0-9A-Za-z_\-]{8,}                 # Google API keys
    | gsk_[A-Za-z0-9]{8,}                    # Groq
    | ABSK[A-Za-z0-9+/=]{8,}                 # Bedrock API keys
    | (?i:bearer)\s+[^\s"',;]+               # an Authorization value copied into a body
    | [A-Za-z0-9_\-+/=]{32,}                 # any long opaque token
    """,
    re.VERBOSE,
)
_TOKENS = re.compile(r"[A-Za-z0-9_\-+/=.]{6,}")
_SPACE = re.compile(r"\s+")


def _pieces_of(secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s and len(s) >= 4]


def redact(
    text: str | bytes | None, secrets: Iterable[str] = (), limit: int = DEFAULT_LIMIT
) -> str:
    """The text without the secrets or key-shaped tokens, whitespace folded, at most `limit` chars.

    Scrubbing happens before shortening, so a cut can never leave half a secret behind.
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    known = _pieces_of(secrets)
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    if known:
        # A provider may echo a fragment (first or last characters): mask any 6+ char run
        # that occurs inside a secret.
        text = _TOKENS.sub(
            lambda m: MASK if any(m.group(0) in s for s in known) else m.group(0), text
        )
    text = _KEY_SHAPES.sub(MASK, text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def contains_secret(text: str, secrets: Iterable[str]) -> bool:
    """True when any secret appears in `text` (used by tests and as a last guard)."""
    return any(s in text for s in _pieces_of(secrets))
