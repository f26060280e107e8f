"""Which provider key id each integration is: found by the redacted key the provider shows
beside byok's own hint, or set by hand. Only a one-to-one match links; anything else is said.

OpenAI shows `redacted_value` ("sk-abc...wxyz"), Anthropic `partial_key_hint`
("sk-ant-api03-R2D...igAA"); byok's hint is at most the first 3 and last 4 characters
(credentials.mask). For an `env:`/`file:` credential the secret is read locally only to mask it,
never sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.errors import IntegrationError
from core.integrations.credentials import mask

_REDACTED = re.compile(r"^(.*?)(?:\.\.\.|…|\*+)(.*)$")


def _parts(text: str) -> tuple[str, str] | None:
    found = _REDACTED.match(text.strip())
    return (found.group(1), found.group(2)) if found else None


def matches(redacted: str, hint: str | None) -> bool:
    """Whether the provider's redacted key can be the key byok masked as `hint`."""
    theirs, ours = _parts(redacted), _parts(hint or "")
    if theirs is None or ours is None or len(ours[1]) < 4 or len(theirs[1]) < 4:
        return False
    return theirs[1][-4:] == ours[1][-4:] and theirs[0].startswith(ours[0])


def local_hint(doc: Mapping[str, Any], secret: Callable[[Mapping[str, Any]], str | None]) -> str:
    """The mask of an integration's key: its stored hint, or for a reference the mask of what it
    names now (read here, never sent); "" when there is none."""
    cred = doc.get("credential") or {}
    if cred.get("source") == "encrypted":
        return str(cred.get("hint") or "")
    try:
        value = secret(doc)
    except IntegrationError:
        return ""
    return mask(value) if value else ""


def auto_links(
    hints: Mapping[str, str], keys: Iterable[tuple[str, str]]
) -> tuple[dict[str, str], list[dict[str, Any]], list[str]]:
    """(integration id -> key id) for one-to-one matches, the ambiguous cases, the unmatched
    integrations. `hints`: integration id -> its mask."""
    keys = list(keys)
    by_iid = {iid: [kid for kid, red in keys if matches(red, h)] for iid, h in hints.items()}
    by_key: dict[str, list[str]] = {}
    for iid, kids in by_iid.items():
        for kid in kids:
            by_key.setdefault(kid, []).append(iid)
    linked: dict[str, str] = {}
    ambiguous: list[dict[str, Any]] = []
    unmatched: list[str] = []
    for iid, kids in sorted(by_iid.items()):
        if not kids:
            unmatched.append(iid)
        elif len(kids) == 1 and by_key[kids[0]] == [iid]:
            linked[iid] = kids[0]
        else:
            others = sorted({o for k in kids for o in by_key[k]} - {iid})
            ambiguous.append(
                {"integration_id": iid, "key_ids": sorted(kids), "shared_with": others}
            )
    return linked, ambiguous, unmatched
