"""Issue 12, item 9: the edit form saves only the fields the user changed, so another process's
change of other fields survives; a field that process changed too is refused on that field, and
nothing is saved."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from support.clirun import byok
from support.clock import fixed_clock
from support.console import open_screen, table_names, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Label

from core import IntegrationDetailResult, IntegrationsFacade
from tui.app import ByokApp
from tui.demo.fakeprovider import FakeProviderServer
from tui.screens.form import FormScreen

T = "default"


async def add(facade: IntegrationsFacade, server: FakeProviderServer, name: str) -> None:
    await facade.create_integration(
        T, name=name, provider_type="openai", credential="env:FORM_KEY",
        config={"base_url": server.base_url_for("openai")},
    )  # fmt: skip


async def other_process(db: Path, *args: str) -> None:
    """`byok ARGS` run by someone else while the form is open."""
    run = await asyncio.to_thread(byok, *args, db=db)
    assert run.code == 0, run.err


@contextlib.asynccontextmanager
async def editing(
    facade: IntegrationsFacade, server: FakeProviderServer, name: str
) -> AsyncIterator[tuple[ByokApp, Pilot, FormScreen]]:
    """The console on `facade` with the edit form of a new integration `name` open."""
    await add(facade, server, name)
    app = ByokApp(
        facade, clock=fixed_clock, cursor_blink=False, probe_interval_s=None,
        refresh_interval_s=0.2,
    )  # fmt: skip
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: table_names(app) == [name])
        yield app, pilot, await open_screen(pilot, "e", FormScreen)


async def saved(facade: IntegrationsFacade, name: str) -> IntegrationDetailResult:
    detail = await facade.resolve_integration(T, name)
    assert detail is not None
    return detail


async def test_an_edit_keeps_what_another_process_changed_meanwhile(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    async with editing(tfacade, fake_server, "shared") as (app, pilot, form):
        await other_process(tfacade.db_path, "edit", "shared", "--model", "gpt-4.1",
                            "--budget-cents", "500",
                            "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
        form.query_one("#name", Input).value = "renamed"
        form.query_one("#rpm", Input).value = "7"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
    detail = await saved(tfacade, "renamed")
    assert detail.rate_limit_rpm == 7
    assert (detail.default_model, detail.budget_limit_cents) == ("gpt-4.1", 500)
    assert detail.config == {"base_url": "http://127.0.0.1:9/v1"}


async def test_a_field_changed_by_both_is_refused_on_that_field(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    async with editing(tfacade, fake_server, "contested") as (app, pilot, form):
        await other_process(tfacade.db_path, "edit", "contested", "--name", "theirs",
                            "--base-url", "http://127.0.0.1:9/v1")  # fmt: skip
        form.query_one("#name", Input).value = "mine"
        form.query_one("#base_url", Input).value = "http://127.0.0.1:10/v1"
        form.query_one("#rpm", Input).value = "7"
        await pilot.press("ctrl+s")
        name_error = form.query_one("#err-name", Label)
        await wait_for(pilot, lambda: name_error.display)
        assert "someone else" in str(name_error.render())
        assert "'theirs'" in str(name_error.render())
        assert form.query_one("#err-base_url", Label).display
        assert isinstance(app.screen, FormScreen)  # still open, the user's text still there
        assert form.query_one("#name", Input).value == "mine"
    detail = await saved(tfacade, "theirs")  # nothing of the form was saved
    assert detail.rate_limit_rpm == 0
    assert detail.config == {"base_url": "http://127.0.0.1:9/v1"}


async def test_saving_an_unchanged_form_writes_nothing(
    tfacade: IntegrationsFacade, fake_server: FakeProviderServer
) -> None:
    async with editing(tfacade, fake_server, "untouched") as (app, pilot, _form):
        before = tfacade.db_path.read_bytes()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormScreen))
    assert tfacade.db_path.read_bytes() == before
    assert (await saved(tfacade, "untouched")).updated_at is None
