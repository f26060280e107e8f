"""The keymap file: binding id -> keys, applied at start with Textual's `App.set_keymap`.

```toml
# ~/.config/byok/keymap.toml (or $BYOK_KEYMAP)
"home.filter" = "f"          # quoted: one id
home.limits = "l,L"          # or dotted: the same id; several keys, comma-separated
[home]
health_log = "h"             # or a table per screen
```

Every id must be one of the console's binding ids (`?` lists them) and every key a key name
(`a`, `G`, `ctrl+x`, `f5`, `question_mark` or `?`). Any mistake refuses the whole file: the
defaults stay and the console says what is wrong.
"""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.keys import Keys, _character_to_key

from core.paths import default_keymap_path

MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
KEY_NAMES = {key.value for key in Keys} | {"space", "tab", "enter", "escape", "backspace"}


class KeymapError(ValueError):
    """The keymap file cannot be applied; the message names the file and the mistake."""


def keymap_path() -> Path:
    return default_keymap_path()


def binding_ids() -> set[str]:
    """Every binding id of the console (the app's, every screen's and widget's)."""
    from tui.app import ByokApp
    from tui.screens.help import SECTIONS

    return {
        b.id
        for node in (ByokApp, *(cls for _, cls in SECTIONS))
        for b in node.BINDINGS
        if isinstance(b, Binding) and b.id
    }


def read_keymap(path: Path, known: set[str] | None = None) -> dict[str, str]:
    """The file's keymap, keys normalised (`?` -> `question_mark`); {} if there is no file.
    Raises KeymapError for an unreadable file, bad TOML, an unknown id or a bad key."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeymapError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KeymapError(f"{path}: not valid TOML ({exc})") from None
    known = binding_ids() if known is None else known
    keymap: dict[str, str] = {}
    for binding_id, keys in _flatten(document, path):
        if binding_id not in known:
            raise KeymapError(f"{path}: {binding_id!r} is not a binding id (? lists them)")
        keymap[binding_id] = _keys(keys, binding_id, path)
    return keymap


def _flatten(table: dict[str, Any], path: Path, prefix: str = "") -> list[tuple[str, Any]]:
    """`[home] filter = "f"` and `home.filter = "f"` (both nested in TOML) -> `home.filter`."""
    out: list[tuple[str, Any]] = []
    for name, value in table.items():
        full = f"{prefix}{name}"
        if isinstance(value, dict):
            out.extend(_flatten(value, path, f"{full}."))
        else:
            out.append((full, value))
    return out


def _keys(value: Any, binding_id: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KeymapError(f'{path}: {binding_id} must be a string of keys, like "x" or "a,b"')
    keys = []
    for key in (k.strip() for k in value.split(",")):
        normal = _character_to_key(key) if len(key) == 1 else key
        if not _is_key(normal):
            raise KeymapError(f"{path}: {binding_id}: {key!r} is not a key name")
        keys.append(normal)
    return ",".join(keys)


def _is_key(key: str) -> bool:
    *modifiers, name = key.split("+")
    if not name or not set(modifiers) <= MODIFIERS:
        return False
    if len(name) == 1 or name in KEY_NAMES:
        return name.isprintable() and not name.isspace()
    try:  # a character's name, as Textual writes it: question_mark, left_square_bracket
        return len(unicodedata.lookup(name.replace("_", " "))) == 1
    except KeyError:
        return False
