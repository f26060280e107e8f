"""Run the real `byok` entry point in a child process, the way a script or cron job does.

`python -m tui.cli.main` is the console script's own code path (`main()`), and works wherever the
project is installed (the CI venv is .venv in the clone; /tmp/venv here).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.env import subprocess_env

BYOK = [sys.executable, "-m", "tui.cli.main"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def byok(
    *args: str,
    db: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Run:
    """Run `byok ARGS` with the test's isolated HOME/XDG/BYOK_MASTER_KEY; stdin is not a tty."""
    child_env = subprocess_env(**(env or {}))
    child_env.pop("NO_COLOR", None)
    argv = [*BYOK, *(["--db", str(db)] if db is not None else []), *args]
    proc = subprocess.run(
        argv,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=child_env,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def copy_db(template: Path, db: Path) -> Path:
    """This test's own copy of a database a module built once (`template`), at `db`.

    Every file beside the template comes along (side files, locks) with its mode, and so does the
    folder's own mode: the copy is what the same `byok` commands would have left at `db`.
    """
    shutil.copytree(template.parent, db.parent, dirs_exist_ok=True)
    return db


def fingerprint(db: Path) -> dict[str, str]:
    """Digest of every file of the database (main file and side files) to prove nothing changed."""
    out: dict[str, str] = {}
    for path in sorted(db.parent.rglob("*")):
        if path.is_file() and not path.name.endswith(".lock"):
            out[str(path.relative_to(db.parent))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_usage_error(run: Run, *needles: str) -> None:
    """Exit 64, one clear line on stderr (no traceback), nothing on stdout."""
    assert run.code == 64, (run.code, run.out, run.err)
    assert "Traceback" not in run.err
    assert run.err.strip(), "a usage error must say what is wrong"
    for needle in needles:
        assert needle.lower() in run.err.lower(), (needle, run.err)
