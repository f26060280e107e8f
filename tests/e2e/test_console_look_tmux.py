"""The console as an on-call monitor in a real terminal: tmux runs the real `byok` at 80x24.

Legibility is read from the screen's own escape codes (`capture-pane -e`): every printed
character's contrast against its background, on a dark and on a light terminal palette
(support.contrast). The limits columns, the cursor row and the rolling minute are read from the
screen's text.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import contrast
from support.tmuxterm import Terminal, byok_command, needs_tmux

from core import IntegrationsFacade

pytestmark = needs_tmux

TENANT = "default"
LONG_NAME = "payments-reconciliation-batch-worker-eu-west-1-production-blue-green-a"  # 70
MODEL = "claude-sonnet-4-5-20250929"
# a row's last three cells: budget %, tokens %, requests/rpm limit (then the scrollbar, if any)
PERCENT = r"(–|\d+(\.\d)?%!?)"
LIMIT_CELLS = re.compile(rf"{PERCENT}\s+{PERCENT}\s+\d+/(\d+|∞)\s*[▁▂▃▄▅▆▇█▔▎▍▌▋▊▉]?$")


def command(db: Path | None, *args: str, **env: str) -> str:
    """The shell line: `VAR=value ... byok [--db DB] args` (NO_COLOR has to be set here:
    the test terminal drops it from its own environment)."""
    assigns = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    db_args = ["--db", str(db)] if db is not None else []
    return " ".join([*assigns, byok_command(*db_args, *args)])


def capture(term: Terminal) -> str:
    return term._tmux("capture-pane", "-e", "-p", "-t", "e2e")


def settled(term: Terminal, pause: float = 0.4) -> str:
    """The screen once two captures `pause` apart agree (the keys have landed)."""
    last = term.screen()
    for _ in range(40):
        time.sleep(pause)
        now = term.screen()
        if now == last:
            return now
        last = now
    return last


async def _build(db: Path, count: int, *, recent_call: bool = False) -> None:
    facade = IntegrationsFacade(db, durable=False)
    try:
        providers = ("openai", "anthropic", "groq", "mistral", "ollama")
        items = [
            {
                "name": LONG_NAME if i == count - 2 else f"payments-svc-{i:04d}",
                "provider_type": providers[i % len(providers)],
                "credential": "" if providers[i % len(providers)] == "ollama" else "env:E2E_KEY",
                "default_model": MODEL,
                "budget_limit_cents": 10_000,
                "token_limit_month": 5_000_000,
                "rate_limit_rpm": 600,
            }
            for i in range(count)
        ]
        created = await facade.create_integrations(TENANT, items)
        if recent_call:  # one call 45 s ago: it leaves the rolling minute in about 15 s
            await facade.record_usage_batch(
                TENANT,
                [
                    {
                        "integration_id": created[0].id,
                        "model": MODEL,
                        "input_tokens": 100,
                        "output_tokens": 20,
                        "at": datetime.now(UTC) - timedelta(seconds=45),
                        "call_id": "e2e-recent",
                    }
                ],
            )
    finally:
        await facade.aclose()


@pytest.fixture
def term() -> Iterator[Terminal]:
    with Terminal(80, 24) as terminal:
        yield terminal


def table_rows(screen: str) -> list[str]:
    """The home table's rows: the lines under its header, down to the panel's top border."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Health"))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("─") or not line.strip():
            break
        rows.append(line)
    return rows


def panel_name(screen: str) -> str:
    """The detail panel's first line: the full name of the highlighted integration."""
    lines = screen.splitlines()
    border = next(i for i, line in enumerate(lines) if line.startswith("────"))
    return lines[border + 1].strip()


# Each: the environment byok runs in, and the terminal palettes it must be legible on.
LOOKS = [
    pytest.param({"NO_COLOR": "1"}, contrast.PALETTES, id="no_color"),
    pytest.param(
        {"TEXTUAL_COLOR_SYSTEM": "standard", "COLORFGBG": "15;0"}, (contrast.DARK,), id="ansi-dark"
    ),
    pytest.param(
        {"TEXTUAL_COLOR_SYSTEM": "standard", "COLORFGBG": "0;15"},
        (contrast.LIGHT,),
        id="ansi-light",
    ),
    pytest.param(
        {"COLORTERM": "truecolor", "BYOK_THEME": "textual-light"},
        contrast.PALETTES,
        id="light_theme",
    ),
    pytest.param({"COLORTERM": "truecolor"}, contrast.PALETTES, id="dark_theme"),
]


@pytest.mark.parametrize(("env", "palettes"), LOOKS)
def test_every_character_legible_on_every_screen(
    term: Terminal, env: dict[str, str], palettes: tuple[contrast.Palette, ...]
) -> None:
    """`byok demo` (every health state, a budget over its limit, notifications) on each screen:
    every printed character at 3:1 or more against its background."""
    term.run(command(None, "demo", **env))
    term.wait_for(lambda s: "✖ failing" in s and "▲ degraded" in s, "probes landed", timeout=60)
    problems: list[str] = []
    for key, shows in (
        (None, "Budget"),
        ("Enter", "Limits this month"),
        ("L", "worst first"),
        ("H", "Health log"),
        ("$", "Recorded vs reported"),
        ("n", "New integration"),
        ("?", "binding id"),
    ):
        if key is not None:  # from the home screen; Escape alone first (Escape+key is Alt+key)
            term.keys(key)
        term.wait_for(shows, f"the screen showing {shows!r}")
        settled(term)
        screen = capture(term)
        assert contrast.parse_screen(screen), "nothing printed?"
        for palette in palettes:
            problems += [f"{shows}: {p}" for p in contrast.illegible(screen, palette)]
        if key is not None:
            term.keys("Escape")
            term.wait_for(lambda s, gone=shows: "Budget" in s and gone not in s, "back home")
            time.sleep(0.3)
    term.keys("q")
    assert not problems, "\n".join(problems[:40])


def test_limits_columns_on_every_row_at_80_columns(term: Terminal, tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    asyncio.run(_build(db, 40))
    term.run(command(db))
    screen = term.wait_for("payments-svc-0039", "the list")
    rows = table_rows(settled(term))
    assert len(rows) >= 8
    header = next(line for line in screen.splitlines() if line.lstrip().startswith("Health"))
    assert all(word in header for word in ("Name", "Budget", "Tokens", "RPM"))
    for row in rows:
        assert LIMIT_CELLS.search(row.rstrip()), f"no budget/tokens/rpm cells in {row!r}"
        assert len(row) <= 80
    long_rows = [row for row in rows if "payments-reconcil" in row]
    assert long_rows and "…" in long_rows[0], "\n".join(rows)  # cut in the table
    assert "0/600" in rows[0]
    # no horizontal scrollbar: the line above the panel's border is a row, not a bar
    assert not any(set(line.strip()) <= set("▁▂▃▄▅▆▇█▔━ ") and line.strip() for line in rows)
    term.keys("q")
    term.wait_for(term.prompt_is_back, "the shell prompt after q")


def test_cursor_row_stays_on_screen(term: Terminal, tmp_path: Path) -> None:
    """With 40 rows in 24 lines: after G, and after g then j x 11, the panel's integration is a
    row on screen."""
    db = tmp_path / "byok.json"
    asyncio.run(_build(db, 40))
    term.run(command(db))
    term.wait_for("payments-svc-0039", "the list")
    first = panel_name(settled(term))
    term.keys("G")
    screen = term.wait_for(lambda s: panel_name(s) != first, "the cursor at the last row")
    screen = settled(term)
    name = panel_name(screen)
    assert any(name in row for row in table_rows(screen)), f"{name} is not on screen:\n{screen}"
    term.keys("g", *["j"] * 11)
    screen = settled(term)
    name = panel_name(screen)
    rows = table_rows(screen)
    assert name != first
    assert any(name in row for row in rows), f"{name} is not on screen:\n{screen}"
    term.keys("q")


def test_rpm_of_a_recent_call_goes_back_to_zero_on_an_idle_database(
    term: Terminal, tmp_path: Path
) -> None:
    """Nothing writes to the database: the console's own clock moves the rolling minute."""
    db = tmp_path / "byok.json"
    asyncio.run(_build(db, 3, recent_call=True))
    recorded = time.monotonic() - 45
    term.run(command(db))
    term.wait_for(lambda s: "1/600" in s, "the call in the rolling minute", timeout=30)
    term.wait_for(lambda s: "1/600" not in s and "0/600" in s, "the minute passing", timeout=40)
    assert time.monotonic() - recorded <= 75
    term.keys("q")
