"""Spend as the providers report it: the accounts (balance, runway, last sync), then per
integration and UTC day what byok recorded beside what the provider reported, and the drift.

The figures are core.spend's (`overview`); this screen only lays them out. An account is
removed here (asking first); one is added with `byok account add` only (see docs/console.md).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from core.timeutil import from_iso
from tui import format as fmt
from tui.screens.base import DataScreen
from tui.widgets.datatable import MeasuredTable
from tui.widgets.keybar import KeyBar

MAX_DAYS = 500  # newest first: what matters is on the first screen anyway
LOW_RUNWAY_DAYS = 7  # a runway this short is flagged (`!`), as a limit past 100 % is
NAME_WIDTH = 16
NO_ACCOUNT = (
    "No provider account yet: byok shows only what it records. Add one from a shell:\n"
    "  byok account add NAME --provider openai|anthropic|openrouter|deepseek"
    " --credential-stdin\n"
    "then press s to sync (the console also syncs in the background). See docs/spend.md."
)


def money(cents: float | None) -> str:
    if cents is None:
        return "n/a"
    return "<$0.01" if 0 < cents < 0.5 else f"${cents / 100:,.2f}"


def signed(cents: float | None) -> str:
    """A drift with its sign: − is spend the provider billed that byok did not record."""
    if cents is None:
        return "n/a"
    if cents == 0:
        return "$0.00"
    sign = "+" if cents > 0 else "−"
    return sign + ("<$0.01" if abs(cents) < 0.5 else f"${abs(cents) / 100:,.2f}")


def runway(days: float | None) -> str:
    if days is None:
        return "–"
    return f"{days:g} days" + ("!" if days < LOW_RUNWAY_DAYS else "")


def short(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


LINK_WORDS = {
    "auto": "linked to {key} of {account} (auto: by its redacted key)",
    "manual": "linked to {key} of {account} (by hand)",
    "ambiguous": "ambiguous: several keys of {account} fit its hint; byok account link REF KEY_ID",
    "unmatched": "unmatched: no key of {account} fits its hint; byok account link REF KEY_ID",
    "none": "no key link: {account} reports a balance only",
}


def link_line(info: dict[str, Any] | None) -> str:
    """How an integration is tied to the provider's key id, in words."""
    if info is None:
        return "not linked: no account of its provider has synced it"
    link = info["link"]
    return LINK_WORDS[link["state"]].format(
        key=link["provider_key_id"], account=link["account"] or "its provider"
    )


def figures_line(label: str, figures: dict[str, Any]) -> str:
    """One period's recorded, reported and drift figures ("today", "this month")."""
    text = (
        f"{label:<11}reported {money(figures['reported_cents'])}"
        f" · recorded {money(figures['recorded_cents'])}"
        f" · drift {signed(figures['drift_cents'])}"
        f" · {fmt.count(figures['reported_tokens'])} tok"
    )
    if figures["unknown_days"]:
        n = figures["unknown_days"]
        text += f"\n{'':<11}({n} day{'s' * (n != 1)} without a recorded figure: n/a, not 0)"
    return text


def spend_text(info: dict[str, Any] | None, now: datetime, look: fmt.Look) -> Text:
    """An integration's provider-reported spend, for the detail screen and panel."""
    text = Text(f"{'key link':<11}{link_line(info)}\n")
    if info is None:
        return text
    if info["link"]["state"] in ("auto", "manual"):
        text.append(figures_line("today", info["today"]) + "\n")
        text.append(figures_line("this month", info["month"]) + "\n")
        synced = from_iso(info["month"]["synced_at"])
        text.append(f"{'synced':<11}{fmt.ago(synced, now)}\n")
    if info["balance"] is not None:
        text.append_text(balance_line(info["balance"], look, 11))
        text.append(f" ({info['link']['account'] or ''})\n")
    return text


def panel_text(info: dict[str, Any] | None, look: fmt.Look) -> Text:
    """The same, in a line or two for the list's panel: today's figures, the link's state."""
    if info is None:
        return Text(f"{'reported':<9}not linked to a provider key\n")
    state = info["link"]["state"]
    today = info["today"]
    text = Text(f"{'reported':<9}")
    if state in ("auto", "manual"):
        text.append(
            f"today {money(today['reported_cents'])} · drift {signed(today['drift_cents'])}"
            f" · key link {state}\n"
        )
    else:
        text.append(f"key link {state} ({info['link']['account'] or '–'})\n")
    if info["balance"] is not None:
        text.append_text(balance_line(info["balance"], look, 9))
        text.append("\n")
    return text


def balance_line(balance: dict[str, Any], look: fmt.Look, indent: int) -> Text:
    days = balance["runway_days"]
    low = days is not None and days < LOW_RUNWAY_DAYS
    text = Text(f"{'balance':<{indent}}{balance_text(balance)} · runway ")
    text.append(runway(days), style=look("warn" if low else ""))
    return text


def balance_text(balance: dict[str, Any]) -> str:
    amount = balance["balance_cents"] / 100
    if balance["currency"] == "USD":
        return f"${amount:,.2f}"
    return f"{amount:,.2f} {balance['currency']}"


class SpendScreen(DataScreen):
    AUTO_FOCUS = "#spend-accounts"
    DEFAULT_CSS = """
    #spend-title, #spend-days-title {
        height: 1; padding: 0 1; text-style: bold; background: $panel;
    }
    #spend-accounts { height: auto; max-height: 7; }
    #spend-account-note { height: auto; max-height: 3; padding: 0 1; }
    #spend-days { height: 1fr; }
    #spend-status { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="spend.back", tooltip="Back one screen"),
        Binding("j", "cursor(1)", "Down", show=False, id="spend.down", tooltip="Move down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="spend.up", tooltip="Move up"),
        Binding("tab", "switch", "Switch", id="spend.switch", tooltip="Between accounts and days"),
        Binding("s", "app.sync", "Sync", id="spend.sync", tooltip="Sync every account now"),
        Binding("d", "remove", "Remove", id="spend.remove", tooltip="Remove the account (asks)"),
        Binding("enter", "open", "Detail", id="spend.detail", tooltip="The day's integration"),
        Binding("r", "refresh", "Refresh", show=False, id="spend.refresh", tooltip="Reload now"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | esc, q | spend.back | Back one screen |
    | j | spend.down | Move down |
    | k | spend.up | Move up |
    | tab | spend.switch | Between accounts and days |
    | s | spend.sync | Sync every account now |
    | d | spend.remove | Remove the account (asks) |
    | enter | spend.detail | The day's integration |
    | r | spend.refresh | Reload now |
    """

    def __init__(self) -> None:
        super().__init__(id="spend")
        self.accounts: list[dict[str, Any]] = []  # in the table's order
        self.shown: tuple[dict[str, Any], dict[str, str]] | None = None  # overview, names

    def compose(self) -> ComposeResult:
        yield Static("Provider accounts", id="spend-title")
        accounts: DataTable[Any] = MeasuredTable(id="spend-accounts", cursor_type="row")
        for label, key in (
            ("Account", "name"),
            ("Provider", "provider"),
            ("Key", "hint"),
            ("Balance", "balance"),
            ("Runway", "runway"),
            ("Last sync", "sync"),
        ):
            accounts.add_column(label, key=key)
        yield accounts
        yield Static("Loading…", id="spend-account-note")
        yield Static(
            "Recorded vs reported per UTC day, newest first · drift −: billed, not recorded",
            id="spend-days-title",
        )
        days: DataTable[Any] = MeasuredTable(id="spend-days", cursor_type="row")
        for label, key in (
            ("Integration", "name"),
            ("Day", "day"),
            ("Recorded", "recorded"),
            ("Reported", "reported"),
            ("Drift", "drift"),
            ("Tokens", "tokens"),
            ("Synced", "synced"),
        ):
            days.add_column(label, key=key)
        yield days
        yield Static("", id="spend-status")
        yield KeyBar()

    async def load(self) -> None:
        data = self.app.data
        overview = await data.spend()
        listing = await data.listing()
        self.shown = overview, {r.id: r.name for r in listing.items}
        self._paint()

    def tick(self) -> None:
        """Time passed, nothing changed on disk: the ages repaint, nothing is read again."""
        if self.shown is not None:
            self._paint()

    def _paint(self) -> None:
        assert self.shown is not None
        overview, names = self.shown
        now = self.app.now()
        self._render_accounts(overview["accounts"], now)
        self._render_days(overview["days"], names, now)
        self._render_status(overview)

    def _render_accounts(self, accounts: list[dict[str, Any]], now: datetime) -> None:
        table = self.query_one("#spend-accounts", DataTable)
        keep = self._cursor_key(table)
        table.clear()
        self.accounts = accounts
        for a in accounts:
            balance = a["balance"]
            days = None if balance is None else balance["runway_days"]
            low = days is not None and days < LOW_RUNWAY_DAYS
            table.add_row(
                fmt.cell(short(a["name"])),
                fmt.cell(a["provider"]),
                fmt.cell(a["credential_hint"] or "–"),
                "–" if balance is None else fmt.cell(balance_text(balance)),
                "–"
                if balance is None
                else Text(runway(balance["runway_days"]), style=self.look("warn" if low else "")),
                self._last_sync(a, now),
                key=a["id"],
            )
        self._restore(table, keep)
        self._render_note()

    def _last_sync(self, account: dict[str, Any], now: datetime) -> Text:
        at = from_iso(account["last_sync_at"])
        if at is None:
            return Text("never")
        if account["last_sync_ok"]:
            return Text(f"✔ {fmt.ago(at, now)}")
        return Text(f"✖ failed {fmt.ago(at, now)}", style=self.look("failing"))

    def _render_note(self) -> None:
        """The highlighted account in full: its name, where it syncs from, its last error."""
        note = self.query_one("#spend-account-note", Static)
        if not self.accounts:
            note.update(fmt.safe(NO_ACCOUNT))
            return
        account = self._current_account()
        if account is None:
            note.update("")
            return
        text = Text(
            f"{account['name']} · {account['provider']} · key {account['credential_hint'] or '–'}"
            f" ({account['credential_source']}) · added {account['created_at'][:10]}"
        )
        if account["last_sync_ok"] is False and account["last_error"]:
            text.append("\nlast sync failed: ", style=self.look("failing"))
            text.append(account["last_error"])
        note.update(fmt.safe(text))

    def _render_days(
        self, days: list[dict[str, Any]], names: dict[str, str], now: datetime
    ) -> None:
        table = self.query_one("#spend-days", DataTable)
        keep = self._cursor_key(table)
        table.clear()
        by_name = sorted(days, key=lambda r: names.get(r["integration_id"], "").casefold())
        ordered = sorted(by_name, key=lambda r: r["period_start"], reverse=True)  # stable
        for r in ordered[:MAX_DAYS]:
            iid = r["integration_id"]
            drift = r["drift_cents"]
            unseen = drift is not None and drift <= -0.5  # a cent or more unrecorded
            table.add_row(
                fmt.cell(short(names.get(iid, iid[:12]))),
                r["period_start"][:10],
                Text(money(r["recorded_cents"]), justify="right"),
                Text(money(r["reported_cents"]), justify="right"),
                Text(signed(drift), style=self.look("warn" if unseen else ""), justify="right"),
                Text(fmt.count(r["reported_tokens"]), justify="right"),
                fmt.ago(from_iso(r["synced_at"]), now),
                key=f"{iid}|{r['period_start']}",
            )
        self._restore(table, keep)

    def _render_status(self, overview: dict[str, Any]) -> None:
        days = len(overview["days"])
        bits = [f"{days:,} days" if days else "no day synced yet"]
        if days > MAX_DAYS:
            bits.append(f"showing the newest {MAX_DAYS}")
        bits += ["drift = recorded − reported", self.app.sync_state]
        self.query_one("#spend-status", Static).update(fmt.safe("  ·  ".join(bits)))

    # -- cursor ---------------------------------------------------------------------------------

    @staticmethod
    def _cursor_key(table: DataTable[Any]) -> str | None:
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @staticmethod
    def _restore(table: DataTable[Any], key: str | None) -> None:
        if key is None:
            return
        with contextlib.suppress(RowDoesNotExist):  # gone: the cursor stays where it was
            table.move_cursor(row=table.get_row_index(key), animate=False)

    def _current_account(self) -> dict[str, Any] | None:
        key = self._cursor_key(self.query_one("#spend-accounts", DataTable))
        return next((a for a in self.accounts if a["id"] == key), None)

    @on(DataTable.RowHighlighted, "#spend-accounts")
    def _account_highlighted(self) -> None:
        self._render_note()

    def _focused_table(self) -> DataTable[Any]:
        days = self.query_one("#spend-days", DataTable)
        return days if days.has_focus else self.query_one("#spend-accounts", DataTable)

    def action_cursor(self, delta: int) -> None:
        table = self._focused_table()
        table.action_cursor_down() if delta > 0 else table.action_cursor_up()

    def action_switch(self) -> None:
        days = self.query_one("#spend-days", DataTable)
        (self.query_one("#spend-accounts", DataTable) if days.has_focus else days).focus()

    # -- actions --------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_remove(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        account = self._current_account()
        if account is None:
            return
        name = account["name"]

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.remove_account(account["id"], name)

        self.app.push_screen(
            ConfirmScreen(
                f"Remove the account {name}?",
                "What was synced from it (days, balances, key links) goes too; its"
                " integrations and their recorded usage stay. Its stored admin key (or"
                " reference) is erased.",
                yes="Remove",
            ),
            answered,
        )

    def action_open(self) -> None:
        days = self.query_one("#spend-days", DataTable)
        if not days.has_focus:
            return
        key = self._cursor_key(days)
        if key:
            self.app.open_detail(key.split("|", 1)[0])

    @on(DataTable.RowSelected, "#spend-days")
    def _day_selected(self) -> None:
        self.action_open()
