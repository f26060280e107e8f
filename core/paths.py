"""Where byok keeps its files, and the environment variables that move them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP = "byok"
DB_ENV = "BYOK_DB"
MASTER_KEY_ENV = "BYOK_MASTER_KEY"
KEY_FILE_ENV = "BYOK_KEY_FILE"
SERVE_TOKEN_ENV = "BYOK_SERVE_TOKEN"  # `byok serve`'s access token
KEYMAP_ENV = "BYOK_KEYMAP"
CONFIG_DIR_ENV = "BYOK_CONFIG_DIR"


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(DB_ENV):
        return Path(env[DB_ENV]).expanduser()
    return Path(user_data_dir(APP, appauthor=False)) / "byok.json"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """byok's configuration directory (channels.toml, ...): $BYOK_CONFIG_DIR, else the user's."""
    env = os.environ if environ is None else environ
    if env.get(CONFIG_DIR_ENV):
        return Path(env[CONFIG_DIR_ENV]).expanduser()
    return Path(user_config_dir(APP, appauthor=False))


def default_key_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(KEY_FILE_ENV):
        return Path(env[KEY_FILE_ENV]).expanduser()
    return Path(user_config_dir(APP, appauthor=False)) / "master.key"


def default_keymap_path(environ: Mapping[str, str] | None = None) -> Path:
    """The console's keymap file (binding id -> keys), in the config directory by default."""
    env = os.environ if environ is None else environ
    if env.get(KEYMAP_ENV):
        return Path(env[KEYMAP_ENV]).expanduser()
    return config_dir(env) / "keymap.toml"


def side_file(db_path: Path, part: str) -> Path:
    """A file that belongs with the database: `byok.json` -> `byok.health.json`."""
    return db_path.with_name(f"{db_path.stem}.{part}{db_path.suffix or '.json'}")


def belongs_to_db(path: Path, db_path: Path) -> bool:
    """Whether `path` is the database or one of the files byok keeps beside it (side files, lock
    and temporary files, the usage log directory and its segments): all of them sit next to the
    database and are named after it. Give both paths resolved (os.path.realpath)."""
    stem = db_path.stem
    for part in (path, *path.parents):
        if part.parent == db_path.parent and (
            part.name == db_path.name or part.name.startswith((f"{stem}.", f".{stem}."))
        ):
            return True
    return False
