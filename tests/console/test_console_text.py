"""Data is shown literally in the console: Rich/Textual markup in a name, a provider message or a
model id neither crashes nor acts, and no control character reaches the terminal (issue 12,
items 5 and 6). Screens are opened through the app's own methods, as their keys do."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from support.clock import fixed_clock
from support.console import wait_for
from support.rawserver import Answer, RawServer
from support.text import unsafe
from textual.content import Content
from textual.widget import Widget

from core import IntegrationsFacade
from core.integrations.redaction import visible
from tui import format as fmt
from tui.app import ByokApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.form import FormScreen
from tui.screens.healthlog import HealthLogScreen
from tui.screens.limits import LimitsScreen

EVIL = "[/x] evil [@click=app.quit]q[/] [link=https://example.com]l[/link] [/]"
ESCAPES = "\x1b]52;c;eA==\x07\x1b[2J\u202e"
KEY = "sk-test-text-Q7w3E9r1T5y8"


@pytest.fixture
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def shown(widget: Widget) -> str:
    return str(widget.render())


def has(app: ByokApp, selector: str) -> bool:
    return len(app.screen.query(selector)) > 0


def notified(app: ByokApp) -> list[str]:
    """What each notification shows (markup applied when the notification asks for it)."""
    out = []
    for n in app._notifications:
        body = Content.from_markup(n.message) if n.markup else Content(n.message)
        out.append(f"{n.title}: {body.plain}")
    return out


async def _made(facade: IntegrationsFacade, raw: RawServer, name: str = EVIL, **extra: Any) -> str:
    detail = await facade.create_integration(
        "default", name=name, provider_type="custom", credential=KEY,
        config={"base_url": raw.url}, budget_limit_cents=100, **extra,
    )  # fmt: skip
    await facade.enable_integration("default", detail.id)
    return detail.id


def _app(facade: IntegrationsFacade) -> ByokApp:
    return ByokApp(facade, clock=fixed_clock, cursor_blink=False, probe_interval_s=None,
                   refresh_interval_s=0.2)  # type: ignore[arg-type]  # fmt: skip


async def test_markup_in_a_name_and_a_message_neither_crashes_nor_acts(
    tfacade: IntegrationsFacade, raw: RawServer
) -> None:
    message = f"{EVIL} {ESCAPES}"
    raw.answer = Answer(401, body=json.dumps({"error": {"message": message}}).encode())
    iid = await _made(tfacade, raw)
    app = _app(tfacade)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
        other = IntegrationsFacade(tfacade.db_path, durable=False)  # `byok test` elsewhere
        try:
            await other.test_credentials("default", iid)
        finally:
            await other.aclose()
        await wait_for(pilot, lambda: any("Health changed" in n for n in notified(app)))
        app.test_one(iid)
        await wait_for(pilot, lambda: any(n.startswith("Probe") for n in notified(app)))
        await pilot.pause(0.3)
        assert app.is_running and app.screen is app.home()
        texts = notified(app)
        assert any(f"{EVIL}: " in n for n in texts if n.startswith("Health changed")), texts
        assert any(EVIL in n for n in texts if n.startswith("Probe")), texts
        assert not any("rror" in n.split(":")[0] for n in texts), texts
        assert all(unsafe(n) == [] for n in texts), texts
        panel = shown(app.screen.query_one("#panel"))
        assert EVIL in panel and unsafe(panel, keep="\n") == []


async def test_every_screen_shows_a_markup_name_literally(
    tfacade: IntegrationsFacade, raw: RawServer
) -> None:
    ids = ["[b]bold[/b]", "[/]", "gpt-ok"]
    raw.answer = Answer(body=json.dumps({"data": [{"id": i} for i in ids]}).encode())
    iid = await _made(tfacade, raw, default_model="[/]")
    await tfacade.test_credentials("default", iid)
    await tfacade.record_usage("default", iid, model="[/x]", input_tokens=1, output_tokens=1,
                               cost_cents=90)  # fmt: skip
    app = _app(tfacade)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
        app.open_detail(iid)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: has(app, "#detail-fields"))
        await wait_for(pilot, lambda: EVIL in shown(app.screen.query_one("#detail-fields")))
        app.pop_screen()
        app.action_health_log()
        await wait_for(pilot, lambda: isinstance(app.screen, HealthLogScreen))
        await pilot.pause(0.5)
        app.pop_screen()
        app.action_limits()
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsScreen))
        await pilot.pause(0.5)
        app.pop_screen()
        app.edit_integration(iid)
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        # the select's own label is mounted after it: closing the form sooner races Textual
        await wait_for(pilot, lambda: has(app, "#model_select #label"))
        await pilot.pause()
        assert EVIL in shown(app.screen.query_one("#form-title"))
        app.pop_screen()
        await pilot.pause(0.3)
        assert app.is_running
        assert not any("rror" in n.split(":")[0] for n in notified(app)), notified(app)


async def test_delete_of_a_row_named_like_markup_works(
    tfacade: IntegrationsFacade, raw: RawServer
) -> None:
    iid = await _made(tfacade, raw, name="[/]")
    app = _app(tfacade)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
        await pilot.press("d")  # on the one row, named "[/]"
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await wait_for(pilot, lambda: has(app, "#confirm-question"))
        assert "Delete [/]?" in shown(app.screen.query_one("#confirm-question"))
        await pilot.press("y")
        await wait_for(pilot, lambda: any("Deleted [/]." in n for n in notified(app)))
    assert await tfacade.get_integration("default", iid) is None


async def test_control_characters_an_old_database_holds_never_reach_the_terminal(
    tfacade: IntegrationsFacade, raw: RawServer
) -> None:
    iid = await _made(tfacade, raw, name="old")
    await tfacade.aclose()  # written by an older byok: raw escapes in the stored text
    data = json.loads(tfacade.db_path.read_text())
    data["integrations"][iid].update(name=f"old{ESCAPES}", health_message=ESCAPES,
                                     default_model=f"m{ESCAPES}")  # fmt: skip
    tfacade.db_path.write_text(json.dumps(data))
    facade = IntegrationsFacade(tfacade.db_path, clock=fixed_clock, durable=False)
    app = _app(facade)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
            await wait_for(pilot, lambda: "\\x1b" in shown(app.screen.query_one("#panel")))
            table = app.screen.query_one("#table")
            cells = [str(c) for c in table.get_row_at(0)]
            panel = shown(app.screen.query_one("#panel"))
            assert unsafe(panel, keep="\n") == [], panel
            assert all(unsafe(c) == [] for c in cells), cells
            app.open_detail(iid)
            await wait_for(pilot, lambda: has(app, "#detail-fields"))
            await wait_for(pilot, lambda: "old" in shown(app.screen.query_one("#detail-fields")))
            assert unsafe(shown(app.screen.query_one("#detail-fields")), keep="\n") == []
    finally:
        await facade.aclose()


def test_the_printable_shortcut_of_the_cells_skips_only_what_visible_keeps() -> None:
    """tui.format.lines hands a printable str through without `visible` (the first paint's
    thousand cells): every printable code point must be one that `visible` keeps, and text with
    any other goes through it."""
    printable = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable())
    assert visible(printable) == printable
    assert fmt.lines(printable) is printable
    for attack in ("\x1b[2J", "a\u202eb", "a\u2028b", "\x9b1m", "x\ud800"):
        assert fmt.lines(attack) == visible(attack) != attack
    assert fmt.lines("a\x1b\nb") == "a\\x1b\nb"  # line ends kept, each line made visible
