"""Module boundaries: the import contracts of pyproject.toml ([tool.importlinter]) hold, and the
console's screens and widgets use only the app's public surface."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")  # the test extra installs it
    assert lint.exists(), f"{lint} missing: pip install -e '.[test]'"
    # --no-cache: the graph takes a tenth of a second, and the tree gets no cache directory
    out = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    counts = re.search(r"Contracts: (\d+) kept, 0 broken", report)
    assert counts and int(counts[1]) > 0, report  # the contracts were found and checked


def _private_app_uses(source: str) -> list[tuple[int, str]]:
    """(line, text) of each `<x>.app._name` or `app._name` (not dunders) in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        owner = node.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "app") or (
            isinstance(owner, ast.Name) and owner.id == "app"
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_private_app_access() -> None:
    sample = "x = self.app._data\napp = self.app\napp._busy()\nself.app.__class__\nself.app.data\n"
    assert _private_app_uses(sample) == [(1, "self.app._data"), (3, "app._busy")]


def test_screens_and_widgets_use_no_private_part_of_the_app() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for folder in ("tui/screens", "tui/widgets")
        for path in sorted((ROOT / folder).glob("*.py"))
        for line, text in _private_app_uses(path.read_text(encoding="utf-8"))
    ]
    assert not offending, "\n".join(offending)
