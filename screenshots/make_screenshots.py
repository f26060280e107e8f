"""Make the README's screenshots: SVGs of the main screens on the fixed sample tenant.

    python screenshots/make_screenshots.py            # writes screenshots/*.svg

Deterministic: a temporary database with a throwaway master key, a fixed clock, fixed ids, the
sample tenant of `tui.demo.sample`. Checks that no secret appears in any file it writes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core.integrations.repository
from core import IntegrationsFacade
from tui.app import ByokApp
from tui.demo.sample import SECRET, build_sample

OUT = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)


async def settle(pilot: Any) -> None:
    for _ in range(200):
        if all(w.is_finished for w in pilot.app.workers):  # none pending or running
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def shoot(name: str, size: tuple[int, int], steps: Callable[[Any], Awaitable[None]]) -> None:
    counter = itertools.count(1)
    core.integrations.repository.uuid.uuid4 = lambda: uuid.UUID(int=next(counter))  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            facade = IntegrationsFacade(
                Path(tmp) / "byok.json", clock=lambda: T0, master_key=os.urandom(32), durable=False
            )
            await build_sample(facade)
            app = ByokApp(
                facade,
                clock=lambda: T0,
                probe_interval_s=None,
                refresh_interval_s=None,
                cursor_blink=False,
                theme="textual-dark",
            )
            async with app.run_test(size=size) as pilot:
                await settle(pilot)
                await steps(pilot)
                await settle(pilot)
                svg = app.export_screenshot(title=f"byok · {name}")
            await facade.aclose()
        finally:
            os.chdir(cwd)
    if SECRET in svg:
        raise SystemExit(f"{name}: a secret reached the screenshot")
    (OUT / f"{name}.svg").write_text(svg, encoding="utf-8")
    print(f"wrote screenshots/{name}.svg")


async def keys(pilot: Any, *pressed: str) -> None:
    for key in pressed:
        await pilot.press(key)
        await settle(pilot)


async def main() -> None:
    await shoot("home", (120, 40), lambda p: keys(p, "j", "j"))
    await shoot("home-80x24", (80, 24), lambda p: keys(p, "j", "j"))
    await shoot("detail", (120, 40), lambda p: keys(p, "j", "j", "enter"))
    await shoot("limits", (120, 40), lambda p: keys(p, "L"))
    await shoot("health-log", (120, 40), lambda p: keys(p, "H"))
    await shoot("form", (120, 40), lambda p: keys(p, "n"))
    await shoot("help", (120, 40), lambda p: keys(p, "question_mark"))


if __name__ == "__main__":
    asyncio.run(main())
