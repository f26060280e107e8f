"""Checks shared by the tests of text from outside (issue 12): no control character a terminal
acts on, no secret (also with its letters spread apart), in values, outputs and files."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OWN_FIELDS = frozenset({"search_text"})  # byok's own index: its parts joined by \x1f
NO_SECRET = "\x00"  # where the text is data (a name, a model), not a credential


def unsafe(text: str, keep: str = "") -> list[str]:
    """The characters of `text` a terminal may act on (controls, format characters such as bidi
    overrides and zero-width ones, line separators, lone surrogates), but those in `keep`."""
    return [
        c for c in text
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") and c not in keep
    ]  # fmt: skip


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, mapping keys too (byok's own index left out)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            if k not in OWN_FIELDS:
                yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def assert_clean(value: Any, secret: str) -> None:
    """No control character and no `secret` (nor its tail) in any string of `value`, also when
    spaces or other characters were put between its letters."""
    pieces = [secret, secret[8:]] if len(secret) > 16 else [secret]
    for text in strings(value):
        assert unsafe(text) == [], repr(text)
        squeezed = "".join(c for c in text if c.isalnum() or c == "-")
        assert not any(p in squeezed for p in pieces), repr(text)


def assert_files_clean(root: Path, secret: str) -> None:
    """Every file under `root`: no `secret` in its bytes, and its JSON (usage segments:
    `crc32-hex SPACE json` a line) clean as `assert_clean` says."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if secret != NO_SECRET:  # a NUL is no secret, and binary files (the dedupe index) hold many
            assert secret.encode() not in raw, path
        if path.suffix == ".json" and raw:
            assert_clean(json.loads(raw), secret)
        elif path.suffix == ".jsonl":
            for line in raw.splitlines():
                assert_clean(json.loads(line.partition(b" ")[2]), secret)
