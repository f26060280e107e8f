"""The Textual console: `ByokApp` and `run_console`.

Shape (after harlequin and dolphie): every read and write of the core runs in a worker; a failed
worker lands in one handler (`on_worker_state_changed`) that turns the error into a notification;
the live-refresh loop checks a cheap change token, and schedules its next check only after the
previous one finished (set_timer, never an interval that could overlap itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from core.enums import HealthState
from core.errors import ErrorKind, IntegrationError
from core.gcpause import FREEZE_BYTES, paused_gc
from core.readside import Dashboard
from tui import format as fmt
from tui.data import ConsoleData, Listing
from tui.notices import Notice, NoticeLog
from tui.screens.base import DataScreen
from tui.screens.home import PAGE_SIZE, HomeScreen

if TYPE_CHECKING:
    from textual.command import Provider
    from textual.notifications import SeverityLevel

    from core import IntegrationsFacade
    from core.watch.status import WatcherStatus

Clock = Callable[[], datetime]
SCREENS_CSS = Path(__file__).with_name("screens.tcss")  # every screen's but the list's
CLOCK_S = 5.0  # ages and the rolling minute repaint this often on a database nobody writes to
SYNC_S = 900.0  # the background spend sync: accounts not synced (by anyone) for this long
START_UP_S = 10.0  # the collector is on again by then, whether or not the first paint came
ANSI_COLOR_SYSTEMS = {"standard", "windows"}
ANSI_SCROLLBARS = {  # the thumb in the terminal's grey, white when hovered or dragged
    "scrollbar": "ansi_bright_black",
    **dict.fromkeys(["scrollbar-hover", "scrollbar-active"], "ansi_default"),
    **dict.fromkeys(
        ["scrollbar-background", "scrollbar-background-hover", "scrollbar-background-active"],
        "ansi_default",
    ),
}
HEALTH_SEVERITY: dict[HealthState, SeverityLevel] = {
    HealthState.FAILING: "error",
    HealthState.DEGRADED: "warning",
}  # of a notification about a health state; else "information"


def _binding_commands() -> type[Provider]:
    """The palette's commands of the key bindings, imported when the palette first opens."""
    from tui.commands import BindingCommands

    return BindingCommands


class ByokApp(App[int]):
    """The byok console for one tenant. See tui/__init__.py for the options."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere work too
    TITLE = "byok"
    # Textual's own commands (theme, quit, keys, screenshot), then one per key binding.
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = App.COMMANDS | {
        _binding_commands
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key"),
        Binding("q", "quit_from_list", "Quit", id="app.quit", tooltip="Quit byok (on the list)"),
        Binding(
            "colon", "command_mode", "Command", id="app.command", tooltip="Command mode (:limits …)"
        ),
        Binding(
            "ctrl+o",
            "outbox",
            "Outbox",
            show=False,
            id="app.outbox",
            tooltip="The watcher (byok watch) and its alerts' deliveries",
        ),
        Binding(
            "ctrl+n",
            "notifications",
            "Notices",
            show=False,
            id="app.notifications",
            tooltip="Every notification, newest first",
        ),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | ? | app.help | Every key |
    | q | app.quit | Quit byok (on the list) |
    | : | app.command | Command mode (:limits …) |
    | ctrl+o | app.outbox | The watcher (byok watch) and its alerts' deliveries |
    | ctrl+n | app.notifications | Every notification, newest first |
    """

    def __init__(
        self,
        facade: IntegrationsFacade | None = None,
        *,
        tenant_id: str = "default",
        probe_interval_s: float | None = 300,
        clock: Clock | None = None,
        refresh_interval_s: float | None = 1.0,
        cursor_blink: bool = True,
        theme: str | None = None,
        db_path: str | os.PathLike[str] | None = None,
        dashboard: Dashboard | None = None,
        sync_interval_s: float | None = SYNC_S,
    ) -> None:
        # NO_COLOR: Textual strips every colour (its NoColor filter) only when it starts in ANSI
        # mode; otherwise it greys them (Monochrome), which paints black on near-black.
        super().__init__(ansi_color=True if os.environ.get("NO_COLOR") else None)
        # Given neither, the app owns the files: it opens the light Dashboard now, builds the
        # facade over it on first need (after the first paint) and closes them at the end.
        self._owns_files = facade is None and dashboard is None
        if facade is not None:
            dashboard = facade.dashboard
        elif dashboard is None:
            dashboard = Dashboard(db_path, clock=clock)
        self.data = ConsoleData(dashboard, tenant_id, facade)
        self.data.start_read_ahead(PAGE_SIZE)
        self.clock = clock
        self.probe_interval_s = probe_interval_s if probe_interval_s else None
        self.refresh_interval_s = refresh_interval_s if refresh_interval_s else None
        self.cursor_blink = cursor_blink
        self.probe_state = (
            f"probes every {fmt.ago_interval(self.probe_interval_s)}"
            if self.probe_interval_s
            else "background probes off"
        )
        self._requested_theme = theme or os.environ.get("BYOK_THEME") or None
        self._set_first_theme(self._pick_theme())
        self._token: tuple[Any, ...] | None = None
        self._last_health: dict[str, tuple[HealthState, str]] | None = None
        self._seen_alerts: set[str] | None = None
        self._watch_timer: Timer | None = None
        self._repainted = time.monotonic()
        self._probe_timer: Timer | None = None
        self.testing_all = False
        self.sync_interval_s = sync_interval_s if sync_interval_s else None
        self._sync_timer: Timer | None = None
        self.syncing = False
        self.sync_state = (
            f"background sync every {fmt.ago_interval(self.sync_interval_s)}"
            if self.sync_interval_s
            else "background sync off"
        )
        self.notices = NoticeLog(self)
        self.key_overrides: dict[str, str] = {}  # the keymap file's, once applied
        self.watcher: WatcherStatus | None = None  # byok watch on this database (poll_watcher)
        self._watcher_polled = -CLOCK_S
        self._start_up = ExitStack()  # the collector's pause while the console starts

    @property
    def facade(self) -> IntegrationsFacade | None:
        """The full facade once built (from the start when one was given), else None."""
        return self.data.facade_ready

    # -- start ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def on_load(self) -> None:
        # No cyclic garbage collection while the console starts: what it builds (styles, widgets,
        # the rows) lives on, and 30-40 collections walking it cost ~40 ms of the first paint.
        # Once the first paint's deferred work is done (warm_up), one collection, and what
        # lives is frozen (core.gcpause); by START_UP_S in any case.
        self._start_up.enter_context(paused_gc(FREEZE_BYTES))
        self.set_timer(START_UP_S, self._start_up.close)

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)
        self.call_after_refresh(lambda: self._check_size(self.size))  # over the home screen
        if self.refresh_interval_s:
            self._watch_timer = self.set_timer(self.refresh_interval_s, self._watch)
        if self.probe_interval_s:
            self._probe_timer = self.set_timer(self.probe_interval_s, self._probe)

    def home_painted(self) -> None:
        """Once, after the home screen's first paint: now load what the first paint did not
        need (the full facade, in a thread, for the alerts baseline and the panel's key line)
        and the keymap file."""
        self.load_screen_styles()
        self.warm_up()
        self.apply_keymap_file()
        self.poll_watcher()

    def _screen_changed(self, screen: Screen[Any]) -> None:
        if not isinstance(screen, HomeScreen):  # another screen before the list's first paint
            self.load_screen_styles()

    def load_screen_styles(self) -> None:
        """Read the styles the list's first paint does without (tui/screens.tcss: the other
        screens, the filter box, the toasts), once; parsed and matched against every widget,
        they cost ~25 ms of it. Not before the app runs: app.tcss must come first."""
        if not self.is_running or self.stylesheet.has_source(str(SCREENS_CSS), ""):
            return
        self.stylesheet.read(SCREENS_CSS)
        self.stylesheet.parse()  # only the new file: the others' rules are cached
        self.stylesheet.update(self)

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables, with the scrollbars in legible greys: the foreground's on the
        surface, in ANSI mode the terminal's grey (a rule on every widget would do the same,
        matched against every widget at start-up)."""
        variables = super().get_css_variables()
        if self.native_ansi_color:
            variables.update(ANSI_SCROLLBARS)
        else:
            grey = "foreground-darken-3" if self.current_theme.dark else "foreground-lighten-3"
            variables["scrollbar"] = variables[grey]
            variables["scrollbar-background"] = variables["surface"]
        return variables

    @work(exclusive=True, group="keymap", exit_on_error=False)
    async def apply_keymap_file(self) -> None:
        from tui.keymap import KeymapError, keymap_path, read_keymap

        path = keymap_path()
        try:
            keymap = await asyncio.to_thread(read_keymap, path)
        except KeymapError as exc:  # the defaults stay
            self.notify(str(exc), title="Keymap not applied", severity="error", timeout=12)
            return
        if keymap:
            self.key_overrides = keymap
            self.set_keymap(keymap)
            count = f"{len(keymap)} binding{'s' * (len(keymap) != 1)}"
            self.notify(f"{count} from {path}", title="Keymap applied", timeout=4)

    @work(exclusive=True, group="warm-up", exit_on_error=False)
    async def warm_up(self) -> None:
        try:
            await self.data.get_facade()
        finally:
            # The start-up's objects (modules, the parsed database, its rows) live as long as
            # the console. Left in the collector's oldest generation, each full collection walks
            # them all: 65-105 ms pauses at 10,000 integrations, felt as a stuck keystroke.
            # Frozen, a collection walks only what came after. Collected first, so no garbage
            # is frozen. On the main thread: the collection holds the GIL wherever it runs.
            self._start_up.close()
        self.check_alerts()
        if self.sync_interval_s:
            self.sync_spend(due_only=True)  # what nobody synced for an interval: now

    def _set_first_theme(self, name: str) -> None:
        """Set the theme before the first stylesheet parse, without the theme watcher: that
        watcher re-parses and re-applies every style (~25 ms of start-up in a 16-colour
        terminal), which the first parse makes needless. Only its ANSI part is kept, through
        the public `ansi_color` reactive: an ANSI theme paints with the terminal's own colours."""
        if name == self.theme:
            return
        self.set_reactive(App.theme, name)
        self.ansi_color = self.current_theme.ansi
        # The stylesheet took the default theme's variables when App.__init__ built it.
        self.stylesheet.set_variables(self.get_css_variables())
        dark = self.current_theme.dark
        self.set_class(dark, "-dark-mode", update=False)
        self.set_class(not dark, "-light-mode", update=False)

    def _pick_theme(self) -> str:
        """ANSI themes in 16-colour terminals (and when asked): the terminal's own palette."""
        requested = self._requested_theme
        if requested is not None and requested in self.available_themes:
            return requested
        if self.console.color_system in ANSI_COLOR_SYSTEMS or os.environ.get("NO_COLOR"):
            return "ansi-light" if _light_terminal() else "ansi-dark"
        return "textual-dark"

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)

    def _check_size(self, size: Size) -> None:
        """Below the size the console reads in, say so over everything until it grows."""
        from tui.screens.toosmall import TooSmallScreen, too_small

        if self.home() is None:  # before the first screen: on_mount checks once it is up
            return
        on_top = self.screen if isinstance(self.screen, TooSmallScreen) else None
        if not too_small(size):
            if on_top is not None:
                self.pop_screen()
        elif on_top is not None:
            on_top.show(size)
        else:
            self.push_screen(TooSmallScreen())

    async def on_unmount(self) -> None:
        self._start_up.close()
        if self._owns_files:
            await self.data.aclose()

    # -- notifications, each kept -------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is kept for the notifications screen (ctrl+n), and is plain text
        whatever `markup` says: messages and titles carry data (names, provider messages,
        errors), which is shown literally (tui.format.safe)."""
        self.load_screen_styles()  # the toasts' (a failed first load notifies before any paint)
        self.notices.add(Notice(self.now(), title, message, severity))
        super().notify(
            fmt.lines(message), title=fmt.lines(title), severity=severity, timeout=timeout,
            markup=False,
        )  # fmt: skip

    # -- errors, in one place -------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error)

    def report_error(self, exc: BaseException) -> None:
        """Every failure a user can meet, said in a sentence; never a traceback on screen."""
        from tui.errors import SHOWN, UNEXPECTED, sentence

        if isinstance(exc, IntegrationError):
            shown, text = SHOWN[exc.kind], sentence(exc)
        elif isinstance(exc, OSError):  # shown like a core error of no particular kind
            shown, text = SHOWN[ErrorKind.ERROR], str(exc)
        else:
            shown, text = UNEXPECTED, f"{type(exc).__name__}: {exc}"
        self.notify(text, title=shown.title, severity=shown.severity, timeout=8)

    # -- live refresh ---------------------------------------------------------------------------

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch(self) -> None:
        try:
            token = await asyncio.to_thread(self.data.change_token)
            if self._token is None:  # compare with what the first read saw
                self._token = self.data.first_token
            if token != self._token:
                self._token = token
                self.refresh_screens()
                self.check_alerts()
            elif time.monotonic() - self._repainted >= CLOCK_S:
                self.tick_screens()
            if time.monotonic() - self._watcher_polled >= CLOCK_S:
                self.poll_watcher()
        finally:
            if self.refresh_interval_s and self.is_running:
                self._watch_timer = self.set_timer(self.refresh_interval_s, self._watch)

    @work(exclusive=True, group="watcher", exit_on_error=False)
    async def poll_watcher(self) -> None:
        """Whether a watcher runs and its outbox's counts, for the home header: read on the
        console's clock (its lease is renewed every round, and goes stale with time alone)."""
        self._watcher_polled = time.monotonic()
        from core.timeutil import to_us

        found = await self.data.watcher(to_us(self.now()))
        if found != self.watcher:
            self.watcher = found
            self._update_home_header()

    def refresh_screens(self) -> None:
        """Ask every screen in the stack that shows data to reload it (they keep their cursor):
        when the database changed, and right after our own writes."""
        self._repainted = time.monotonic()
        for screen in self.screen_stack:
            if isinstance(screen, DataScreen):
                screen.refresh_data()

    def tick_screens(self) -> None:
        """The console's own clock: nothing changed on disk, but time passed (the ages, the
        rolling minute of requests). Each screen re-reads what depends on time, cheaply."""
        self._repainted = time.monotonic()
        for screen in self.screen_stack:
            if isinstance(screen, DataScreen):
                screen.tick()

    def observe_listing(self, listing: Listing) -> None:
        """Notify the health changes between two listings (probes by us, cron or the CLI)."""
        current = {s.id: (s.health_state, s.name) for s in listing.items}
        previous, self._last_health = self._last_health, current
        if previous is None:
            return
        changes = [
            (name, previous[iid][0], state)
            for iid, (state, name) in current.items()
            if iid in previous and previous[iid][0] != state and state != HealthState.UNKNOWN
        ]
        for name, before, after in changes[:5]:
            self.notify(
                f"{name}: {fmt.health_plain(before)} → {fmt.health_plain(after)}",
                title="Health changed",
                severity=HEALTH_SEVERITY.get(after, "information"),
                timeout=8,
            )
        if len(changes) > 5:
            self.notify(f"and {len(changes) - 5} more health changes", title="Health changed")

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def check_alerts(self) -> None:
        alerts = await self.data.alerts(limit=50)
        ids = {a.id for a in alerts}
        seen, self._seen_alerts = self._seen_alerts, (self._seen_alerts or set()) | ids
        if seen is None:
            return  # the first look: what was already there is not news
        for alert in [a for a in alerts if a.id not in seen][:5]:
            self.notify(
                alert.message,
                title=f"Limit alert ({alert.threshold}%)",
                severity="error" if alert.threshold >= 100 else "warning",
                timeout=10,
            )

    # -- background probes ----------------------------------------------------------------------

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _probe(self) -> None:
        """Probe stale enabled integrations, then schedule the next round."""
        try:
            count = 0
            facade = await self.data.get_facade()
            # Enabled integrations (the core's default) not checked for one interval.
            async for _result in facade.check_many(
                self.data.tenant_id, stale_after_s=self.probe_interval_s
            ):
                count += 1
            self.probe_state = f"probes every {fmt.ago_interval(self.probe_interval_s)}"
            if count:
                self.refresh_screens()
        finally:
            self._update_home_header()
            if self.probe_interval_s and self.is_running:
                self._probe_timer = self.set_timer(self.probe_interval_s, self._probe)

    # -- background spend sync ------------------------------------------------------------------

    def action_sync(self) -> None:
        """Sync every account now (s on the spend screen, :sync)."""
        self.sync_spend(due_only=False)

    def sync_spend(self, *, due_only: bool) -> None:
        """One sync run in a thread; the next is scheduled when it has finished. `due_only`:
        the accounts nobody (this console, cron, `byok watch`) synced for an interval."""
        if self.syncing:
            if not due_only:
                self.notify("A sync is running already.", title="Sync", timeout=4)
            return
        if self._sync_timer is not None:
            self._sync_timer.stop()
            self._sync_timer = None
        self.syncing = True
        self.sync_state = "syncing…"
        self._sync_worker(due_only)

    @work(thread=True, exclusive=True, group="spend-sync", exit_on_error=False)
    def _sync_worker(self, due_only: bool) -> None:
        try:
            facade = self.call_from_thread(self.data.get_facade)
            spend = facade.spend()
            tenant = self.data.tenant_id
            if due_only:
                due = spend.due(tenant, self.sync_interval_s or SYNC_S)
                reports = [r for a in due for r in spend.sync(tenant, a.id)]
            else:
                reports = spend.sync(tenant)
            self._from_thread(self._synced, reports, not due_only)
        finally:
            self._from_thread(self._sync_finished)

    def _from_thread(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run `callback` on the app's loop, unless the app has stopped meanwhile."""
        if self.is_running:
            with contextlib.suppress(RuntimeError):  # stopped between the check and the call
                self.call_from_thread(callback, *args)

    def _synced(self, reports: list[dict[str, Any]], asked: bool) -> None:
        failed = [r for r in reports if not r["ok"]]
        for r in failed:  # not fatal: the other accounts went on, the next run tries again
            self.notify(f"{r['account']}: {r['error']}", title="Sync failed", severity="error",
                        timeout=10)  # fmt: skip
        if asked and not reports:
            self.notify("No provider account: add one with byok account add.", title="Sync")
        elif asked and not failed:
            n = len(reports)
            self.notify(f"{n} account{'s' * (n != 1)} synced.", title="Sync", timeout=4)
        if reports:
            self.refresh_screens()

    def _sync_finished(self) -> None:
        self.syncing = False
        now = self.now().strftime("%H:%M UTC")
        self.sync_state = (
            f"synced {now}, next in {fmt.ago_interval(self.sync_interval_s)}"
            if self.sync_interval_s
            else f"synced {now}, background sync off"
        )
        if self.sync_interval_s and self.is_running:
            self._sync_timer = self.set_timer(
                self.sync_interval_s, lambda: self.sync_spend(due_only=True)
            )
        from tui.screens.spend import SpendScreen

        for screen in self.screen_stack:  # the one screen that shows the sync's state
            if isinstance(screen, SpendScreen):
                screen.tick()

    @work(exit_on_error=False, group="account")
    async def remove_account(self, account_id: str, name: str) -> None:
        facade = await self.data.get_facade()
        await asyncio.to_thread(facade.spend().accounts.remove, self.data.tenant_id, account_id)
        self.notify(f"Removed the account {name} and what was synced from it.", timeout=4)
        self.refresh_screens()

    def _update_home_header(self) -> None:
        home = self.home()
        if home is not None:
            home.update_header()

    # -- actions --------------------------------------------------------------------------------

    # Screens other than home are imported on first use: the first paint does not wait for them.

    def _push_once(self, screen_type: type[Screen[Any]]) -> None:
        """A new `screen_type` on top, unless one is on top already."""
        if not isinstance(self.screen, screen_type):
            self.push_screen(screen_type())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # q quits on the list only; every other screen binds q to back (a form: to nothing).
        # (ctrl+q, Textual's own `quit`, quits from anywhere.)
        return action != "quit_from_list" or isinstance(self.screen, HomeScreen)

    async def action_quit_from_list(self) -> None:
        await self.action_quit()

    def action_command_mode(self) -> None:
        from tui.command_mode import run_command
        from tui.screens.command import CommandScreen

        if isinstance(self.screen, ModalScreen):  # a form, a question, help: no command mode
            return

        def entered(text: str | None) -> None:
            if text:
                run_command(self, text)

        self.push_screen(CommandScreen(), entered)

    def action_outbox(self) -> None:
        from tui.screens.outbox import OutboxScreen

        self._push_once(OutboxScreen)

    def action_notifications(self) -> None:
        from tui.screens.notifications import NotificationsScreen

        self._push_once(NotificationsScreen)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self._push_once(HelpScreen)

    def open_detail(self, integration_id: str) -> None:
        from tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(integration_id))

    def action_limits(self) -> None:
        from tui.screens.limits import LimitsScreen

        self._push_once(LimitsScreen)

    def action_spend(self) -> None:
        from tui.screens.spend import SpendScreen

        self._push_once(SpendScreen)

    def action_health_log(self) -> None:
        from tui.screens.healthlog import HealthLogScreen

        self._push_once(HealthLogScreen)

    def action_new(self) -> None:
        from tui.screens.form import FormScreen

        self.push_screen(FormScreen(), self._saved)

    def _saved(self, integration_id: str | None) -> None:
        if integration_id is None:
            return
        home = self.home()
        if home is not None:
            home.highlight_next(integration_id)
        self.notify("Saved.", timeout=3)
        self.refresh_screens()

    @work(exit_on_error=False)
    async def edit_integration(self, integration_id: str) -> None:
        from tui.screens.form import FormScreen

        facade = await self.data.get_facade()
        detail = await facade.get_integration(self.data.tenant_id, integration_id)
        if detail is None:
            self.notify("It no longer exists.", severity="warning")
            return
        # The last successful probe's models, by any process: a select instead of free text.
        models = await facade.get_models(self.data.tenant_id, integration_id)
        self.push_screen(FormScreen(detail, models), self._saved)

    @work(exit_on_error=False, group="test-one")
    async def test_one(self, integration_id: str) -> None:
        facade = await self.data.get_facade()
        result = await facade.test_credentials(self.data.tenant_id, integration_id)
        if result is None:
            return
        state = result.health_state
        self.notify(
            f"{fmt.health_plain(state)} · {fmt.latency(result.latency_ms)}"
            f" · {result.message or ''}",
            title="Probe",
            timeout=6,
            severity=HEALTH_SEVERITY.get(state, "information"),
        )
        self.refresh_screens()

    @work(exclusive=True, group="test-all", exit_on_error=False)
    async def action_test_all(self) -> None:
        if self.testing_all:
            return
        self.testing_all = True
        home = self.home()
        listing = await self.data.listing()
        total = listing.total
        done = failing = 0
        try:
            if home is not None:
                home.show_progress(0, total, 0)
            facade = await self.data.get_facade()
            async for result in facade.check_many(self.data.tenant_id, include_disabled=True):
                done += 1
                failing += result.health_state == HealthState.FAILING
                total = max(total, done)
                if home is not None:
                    home.show_progress(done, total, failing)
            self.notify(f"Tested {done:,}: {failing:,} failing.", title="Test all", timeout=6)
        finally:
            self.testing_all = False
            if home is not None:
                home.show_progress(total, total, failing)
            self.refresh_screens()

    def home(self) -> HomeScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                return screen
        return None


def _light_terminal() -> bool:
    """Whether the terminal says its background is light ($COLORFGBG, "fg;bg" in ANSI colour
    numbers, set by rxvt, Konsole and others): 7 and 15 are white, 9-14 light colours."""
    background = os.environ.get("COLORFGBG", "").rpartition(";")[2]
    return background.isdigit() and int(background) in (7, *range(9, 16))


def run_console(
    db_path: str | os.PathLike[str] | None = None,
    tenant_id: str = "default",
    *,
    dashboard: Dashboard | None = None,
    **opts: Any,
) -> int:
    """Open the database (a StoreError propagates to the caller, which reports it) unless an
    open `dashboard` is given, run the console until the user quits, close the files. Returns
    the exit code."""
    if dashboard is None:
        dashboard = Dashboard(db_path)
    app = ByokApp(tenant_id=tenant_id, dashboard=dashboard, **opts)

    def hang_up(signum: int, _frame: object) -> None:
        # SIGTERM, or SIGHUP from a closed ssh session: leave as after q (the terminal restored,
        # the files closed), with the shell's code for the signal (143, 129).
        app.exit(return_code=128 + signum)

    saved: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():  # where signals can be handled
        saved = {sig: signal.signal(sig, hang_up) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        app.run()
        return int(app.return_code or 0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        asyncio.run(app.data.aclose())
