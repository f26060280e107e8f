"""The console under test: an app on a facade, headless, once its home screen has loaded."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from textual.pilot import Pilot

from core import IntegrationsFacade
from support.clock import fixed_clock
from support.console import wait_for
from tui.app import ByokApp
from tui.demo.fakeprovider import FakeProviderServer

SECRET = "sk-test-flow-Xy7Q"


def make_app(facade: IntegrationsFacade, **opts: object) -> ByokApp:
    opts.setdefault("probe_interval_s", None)
    opts.setdefault("refresh_interval_s", 0.2)
    return ByokApp(facade, clock=fixed_clock, cursor_blink=False, **opts)  # type: ignore[arg-type]


async def add(facade: IntegrationsFacade, server: FakeProviderServer, name: str, **extra: object):
    fields: dict[str, object] = {
        "provider_type": "openai",
        "credential": SECRET,
        "config": {"base_url": server.base_url_for("openai")},
    }
    fields.update(extra)
    return await facade.create_integration("default", name=name, **fields)  # type: ignore[arg-type]


def loaded(app: ByokApp) -> bool:
    home = app.home()
    return home is not None and home.loaded


@contextlib.asynccontextmanager
async def loaded_app(
    facade: IntegrationsFacade, size: tuple[int, int] = (80, 24), **opts: object
) -> AsyncIterator[tuple[ByokApp, Pilot]]:
    """The console on `facade`, running headless, once its home screen has loaded."""
    app = make_app(facade, **opts)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        yield app, pilot
