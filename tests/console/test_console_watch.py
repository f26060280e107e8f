"""The console shows the watcher (`byok watch`): a word in the home header (80 columns), and
the outbox screen (ctrl+o, `:outbox`): each alert's delivery per channel, literally."""

from __future__ import annotations

import socket
from pathlib import Path

from support.clock import fixed_clock
from support.console import open_screen, wait_for
from support.consoleapp import loaded_app
from textual.widgets import DataTable, Static

from core import IntegrationsFacade
from core.timeutil import to_us
from core.watch.outbox import Event, Outbox, Retry
from core.watch.state import WatchState
from tui.app import ByokApp
from tui.screens.command import CommandScreen
from tui.screens.outbox import OutboxScreen

NOW = to_us(fixed_clock())
S = 1_000_000
ERROR = "[bold]HTTP 503[/bold] from hook \x1b[31m"


def write_watch(db_path: Path, *, renewed_s: float = -2, host: str = "byok-host") -> None:
    """A lease (pid 4242 on another host: only its expiry tells) and three deliveries."""
    state = WatchState(db_path, durable=False)
    try:
        with state.change() as tables:
            renewed = NOW + int(renewed_s * S)
            tables["lease"]["watcher"] = {
                "holder": "h1", "pid": 4242, "host": host, "since_us": NOW - 3600 * S,
                "renewed_us": renewed, "expires_us": renewed + 30 * S,
            }  # fmt: skip
        box = Outbox(state, Retry(max_attempts=2))
        events = [
            Event(f"k{i}", "default", None, kind, title, "body", NOW - (3 - i) * 60 * S)
            for i, (kind, title) in enumerate(
                [("budget_80", "byok: prod at 80% of its budget"),
                 ("health_failing", "byok: [red]refused[/red] is failing"),
                 ("runway_low", "byok: router has 2 days of credit left")]
            )
        ]  # fmt: skip
        box.fire(events, ["hook"], NOW - 300 * S)
        ids = {i["key"]: i["id"] for i in box.items()}
        box.delivered(ids["k0"], NOW - 170 * S)
        box.failed(ids["k1"], ERROR, NOW - 100 * S)
        box.failed(ids["k2"], "refused", NOW - 90 * S)
        box.failed(ids["k2"], "refused again", NOW - 80 * S)  # the second of 2: dead
        other = Event("x", "other-tenant", None, "budget_80", "not ours", "b", NOW)
        box.fire([other], ["hook"], NOW)
    finally:
        state.close()


def header_text(app) -> str:
    return str(app.home().query_one("#header-bar", Static).render())


async def test_the_header_says_whether_a_watcher_runs_within_80_columns(
    tfacade: IntegrationsFacade, db_path: Path
) -> None:
    async with loaded_app(tfacade) as (app, pilot):
        await pilot.pause(0.3)
        assert "watch" not in header_text(app)  # no watcher ever ran here: nothing said
        write_watch(db_path)
        app.poll_watcher()
        await wait_for(pilot, lambda: app.watcher is not None)
        await wait_for(pilot, lambda: "watch ✔ 1 pending 1 dead" in header_text(app))
        top = header_text(app).splitlines()[0]
        assert len(top) <= 78 and top.startswith("byok  tenant default")

        write_watch(db_path, renewed_s=-60)  # not renewed for a minute: its holder died
        app.poll_watcher()
        await wait_for(pilot, lambda: "watch stale" in header_text(app))


async def test_a_lease_of_a_dead_process_on_this_host_is_stale_at_once(
    tfacade: IntegrationsFacade, db_path: Path
) -> None:
    write_watch(db_path, host=socket.gethostname())  # pid 4242 here: no such process
    async with loaded_app(tfacade) as (app, pilot):
        await wait_for(pilot, lambda: "watch stale" in header_text(app))


async def test_the_outbox_screen_lists_each_delivery_literally(
    tfacade: IntegrationsFacade, db_path: Path
) -> None:
    write_watch(db_path)
    async with loaded_app(tfacade) as (app, pilot):
        screen = await open_screen(pilot, "ctrl+o", OutboxScreen)
        table = screen.query_one("#outbox-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)  # not the other tenant's
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(3)]
        assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
            ("hook", "dead", "2", "runway_low"),
            ("hook", "pending", "1", "health_failing"),
            ("hook", "delivered", "1", "budget_80"),
        ]
        watcher = str(screen.query_one("#outbox-watcher", Static).render())
        assert watcher.startswith("Watcher: pid 4242 on byok-host since 2026-11-14 11:00 UTC")
        status = str(screen.query_one("#outbox-status", Static).render())
        assert status == "1 pending  ·  1 delivered  ·  1 dead"
        await pilot.press("j")
        item = str(screen.query_one("#outbox-item", Static).render())
        assert "byok: [red]refused[/red] is failing" in item  # markup in data: shown as is
        assert "last error: [bold]HTTP 503[/bold] from hook \\x1b[31m" in item
        assert "next attempt" in item
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OutboxScreen))

        await open_screen(pilot, "colon", CommandScreen)
        await pilot.press(*"outbox", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboxScreen))


async def test_the_detail_screen_lists_the_watchers_alerts_of_the_integration_literally(
    tfacade: IntegrationsFacade, db_path: Path
) -> None:
    from tui.screens.detail import DetailScreen

    made = await tfacade.create_integration("default", name="refused", provider_type="ollama")
    state = WatchState(db_path, durable=False)
    try:
        box = Outbox(state)
        at = NOW - 120 * S
        box.fire([Event("health/x", "default", made.id, "health_failing",
                        "byok: [red]refused[/red] is failing", "b", at)], ["hook"], at)  # fmt: skip
        ((iid, _),) = box.due(at)
        box.failed(iid, ERROR, at)
        box.fire([Event("drift/y", "default", made.id, "spend_drift", "byok: refused drifted",
                        "b", NOW - 60 * S)], [], NOW - 60 * S)  # no channel: listed all the same
    finally:
        state.close()
    async with loaded_app(tfacade, size=(120, 40)) as (app, pilot):
        screen = await open_screen(pilot, "enter", DetailScreen)
        box = screen.query_one("#detail-alerts", Static)
        await wait_for(pilot, lambda: "drift" in str(box.render()))
        lines = str(box.render()).splitlines()
        assert lines[0].endswith("ago  drift  refused drifted")  # newest first
        assert lines[1].endswith("ago  failing  [red]refused[/red] is failing")
        assert "… pending to hook (1 tries: [bold]HTTP 503[/bold] from hook \\x1b[31m)" in lines[2]
        assert "\x1b" not in app.export_screenshot()


async def test_the_outbox_screen_without_a_watcher(tfacade: IntegrationsFacade) -> None:
    async with loaded_app(tfacade) as (_app, pilot):
        screen = await open_screen(pilot, "ctrl+o", OutboxScreen)
        box = screen.query_one("#outbox-watcher", Static)
        await wait_for(pilot, lambda: "No watcher has run" in str(box.render()))
        assert str(screen.query_one("#outbox-status", Static).render()) == "No alert in the outbox."


# -- snapshots at 80x24 -------------------------------------------------------------------------


def _snap_app(tmp_path: Path) -> ByokApp:
    db = tmp_path / "byok.json"
    write_watch(db)
    facade = IntegrationsFacade(db, clock=fixed_clock, durable=False)
    return ByokApp(facade, clock=fixed_clock, probe_interval_s=None, refresh_interval_s=None,
                   cursor_blink=False, theme="textual-dark")  # fmt: skip


def _settled(*keys: str, opens: type = object):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.home() is not None and app.home().loaded)
        await wait_for(pilot, lambda: app.watcher is not None)
        if keys:
            await pilot.press(*keys)
            await wait_for(pilot, lambda: isinstance(app.screen, opens))
        await wait_for(pilot, lambda: all(w.is_finished for w in app.workers))
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: all(w.is_finished for w in app.workers))

    return run_before


def test_snapshot_home_header_with_a_watcher(snap_compare, tmp_path, monkeypatch, fixed_ids):
    monkeypatch.chdir(tmp_path)
    assert snap_compare(_snap_app(tmp_path), terminal_size=(80, 24), run_before=_settled())


def test_snapshot_outbox(snap_compare, tmp_path, monkeypatch, fixed_ids):
    monkeypatch.chdir(tmp_path)
    run_before = _settled("ctrl+o", opens=OutboxScreen)
    assert snap_compare(_snap_app(tmp_path), terminal_size=(80, 24), run_before=run_before)
