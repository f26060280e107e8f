"""Making text that came from outside safe to keep and to show: no secret, no control character.

Providers sometimes echo the key back ("Incorrect API key provided: sk-abc***wxyz", the whole key
in a proxy's error page, a model list or an id field), now and then with spaces or zero-width
characters between its letters. A hostile or broken endpoint may also answer with escape
sequences (OSC 52 sets the clipboard, `ESC [2J` clears the screen) or bidi overrides that
reorder what a terminal shows. Three functions, from strictest to most literal:

* `redact`: free text (a provider's message): the secrets, their pieces and anything shaped like
  a key masked, whitespace folded, control characters made visible, at most `limit` characters.
* `scrub`: an identifier or a value (a model id, a header, an id field): the secrets masked and
  control characters made visible, nothing else changed. `scrub_value` applies it to every
  string of a structure; the health service applies it to every field of every probe result, the
  one boundary all provider text passes before it is stored or returned.
* `visible`: text about to reach a terminal or a file (output of values stored by an older
  version): format characters dropped, other control characters shown as `\\x1b`-style escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

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

# Unicode's format characters (category Cf, as of Unicode 15.1): invisible, they change how text
# around them shows (bidi overrides U+202A-202E and U+2066-2069, zero-width U+200B-200D, word
# joiner U+2060, BOM U+FEFF). Dropped from outside text. A test compares this with unicodedata.
_CF_RANGES = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
FORMAT_CHARS = "".join(chr(c) for lo, hi in _CF_RANGES for c in range(lo, hi + 1))
_FORMAT = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CF_RANGES) + "]")
# What a terminal may act on besides: C0, DEL, C1, line/paragraph separators, lone surrogates
# (which would also make writing the text to a UTF-8 stream fail).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# What may sit between the letters of an echoed secret and still hide it from a plain search.
_GAP = "[\\s\x00-\x1f\x7f-\x9f]*"
_GAPS = re.compile(_GAP[:-1] + "+")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with format characters dropped and every other control character shown as an
    escape (`\\x1b`, `\\u2028`); printable text, markup brackets included, is left as it is."""
    if text.isascii() and text.isprintable():  # most text: no format or control character
        return text
    return _CONTROL.sub(_escape, _FORMAT.sub("", text))


def _pieces_of(secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s and len(s) >= 4]


def _mask_secrets(text: str, known: list[str]) -> str:
    """`text` (format characters already dropped) with each secret masked, also when spaces or
    control characters sit between its letters, and any 6+ char run that is a piece of one."""
    closed = _GAPS.sub("", text) if known else text
    for secret in sorted(known, key=len, reverse=True):
        # With the gaps taken out, an echo (gaps or none) is a plain substring: the pattern, one
        # compile per secret (~1 ms, and re's cache is smaller than a check of many keys), runs
        # only where one may be. A secret with a gap character in it is always searched for.
        if secret in closed or _GAPS.search(secret):
            masked = re.sub(_GAP.join(map(re.escape, secret)), MASK, text)
            if masked != text:
                text, closed = masked, _GAPS.sub("", masked)
    if known:
        # A provider may echo a fragment (first or last characters).
        text = _TOKENS.sub(
            lambda m: MASK if any(m.group(0) in s for s in known) else m.group(0), text
        )
    return text


def redact(
    text: str | bytes | None, secrets: Iterable[str] = (), limit: int = DEFAULT_LIMIT
) -> str:
    """The text without the secrets or key-shaped tokens, whitespace folded, control characters
    made visible, at most `limit` chars.

    Scrubbing happens before shortening, so a cut can never leave half a secret behind.
    """
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = _mask_secrets(_FORMAT.sub("", text), _pieces_of(secrets))
    text = _KEY_SHAPES.sub(MASK, text)
    text = visible(_SPACE.sub(" ", text).strip())
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """An identifier or value without the secrets and with control characters made visible;
    unlike `redact`, nothing shaped like a key is guessed at and nothing is folded or cut."""
    known = _pieces_of(secrets)
    if not known:
        return visible(text)
    return visible(_mask_secrets(_FORMAT.sub("", text), known))


def scrub_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with `scrub` applied to every string in it (mapping keys too); tuples come back as
    lists, enums and other values as they are."""
    known = list(secrets)
    if isinstance(value, str) and not isinstance(value, Enum):
        return scrub(value, known)
    if isinstance(value, Mapping):
        return {scrub_value(k, known): scrub_value(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v, known) for v in value]
    return value


def contains_secret(text: str, secrets: Iterable[str]) -> bool:
    """True when any secret appears in `text` (used by tests and as a last guard)."""
    return any(s in text for s in _pieces_of(secrets))
