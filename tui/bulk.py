"""Delete, enable, disable and test the integrations the keys target: the highlighted one, or the
marked rows. Each asks once (naming the integration, or how many), then calls the facade, one
call per integration, in a worker. What each call means is the core's; this only asks and counts.
(Testing a single integration does not ask: `ByokApp.test_one`.)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from core.enums import HealthState
from tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from tui.app import ByokApp

Target = tuple[str, str]  # (integration id, name)
NAMES_SHOWN = 5  # a bulk confirmation lists this many names, then "and N more"


def subject(targets: Sequence[Target]) -> str:
    """What a question names: the integration, or how many."""
    if len(targets) == 1:
        return targets[0][1]
    return f"{len(targets):,} marked integrations"


def names_line(targets: Sequence[Target]) -> str:
    names = ", ".join(name for _, name in targets[:NAMES_SHOWN])
    more = len(targets) - NAMES_SHOWN
    return names + (f" and {more:,} more" if more > 0 else "")


def ask(
    app: ByokApp,
    targets: Sequence[Target],
    verb: str,
    detail: str,
    act: Callable[[ByokApp, list[Target]], Coroutine[Any, Any, None]],
) -> None:
    """One confirmation for all of `targets`; yes runs `act` in a worker, then the marks go."""
    chosen = list(targets)
    if not chosen:
        return
    if len(chosen) > 1:
        detail = f"{names_line(chosen)}.\n{detail}"

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(_then_unmark(app, chosen, act), exit_on_error=False)

    app.push_screen(ConfirmScreen(f"{verb} {subject(chosen)}?", detail, yes=verb), answered)


async def _then_unmark(
    app: ByokApp,
    targets: list[Target],
    act: Callable[[ByokApp, list[Target]], Coroutine[Any, Any, None]],
) -> None:
    try:
        await act(app, targets)
    finally:
        home = app.home()
        if home is not None:
            home.unmark([iid for iid, _ in targets])
        app.refresh_screens()


def delete(app: ByokApp, targets: Sequence[Target]) -> None:
    detail = (
        "Its stored key is erased." if len(targets) == 1 else "Their stored keys are erased."
    ) + " Usage and health history are kept."
    ask(app, targets, "Delete", detail, _delete)


def set_enabled(app: ByokApp, targets: Sequence[Target], enabled: bool) -> None:
    detail = (
        "Enabled integrations are probed in the background and can be used."
        if enabled
        else "Disabled integrations are not probed in the background and cannot be used."
    )
    ask(app, targets, "Enable" if enabled else "Disable", detail, _enable if enabled else _disable)


def test(app: ByokApp, targets: Sequence[Target]) -> None:
    detail = "Each is probed now, disabled ones too; results land as they come."
    ask(app, targets, "Test", detail, _test)


async def _delete(app: ByokApp, targets: list[Target]) -> None:
    from tui.screens.detail import DetailScreen

    facade = await app.data.get_facade()
    gone = [
        (await facade.delete_integration(app.data.tenant_id, iid)).deleted for iid, _ in targets
    ]
    screen = app.screen
    if isinstance(screen, DetailScreen) and screen.integration_id in {i for i, _ in targets}:
        screen.dismiss(None)
    if len(targets) == 1:
        name = targets[0][1]
        app.notify(f"Deleted {name}." if gone[0] else f"{name} was already gone.")
    else:
        app.notify(_counted("Deleted", sum(gone), len(targets), "already gone"))


async def _enable(app: ByokApp, targets: list[Target]) -> None:
    await _lifecycle(app, targets, True)


async def _disable(app: ByokApp, targets: list[Target]) -> None:
    await _lifecycle(app, targets, False)


async def _lifecycle(app: ByokApp, targets: list[Target], enabled: bool) -> None:
    facade = await app.data.get_facade()
    call = facade.enable_integration if enabled else facade.disable_integration
    results = [await call(app.data.tenant_id, iid) for iid, _ in targets]
    if len(targets) == 1:
        result = results[0]
        if result is not None:
            app.notify(result.message, timeout=4)
        else:
            app.notify(f"{targets[0][1]} no longer exists.", severity="warning")
        return
    done = sum(r is not None for r in results)
    verb = "Enabled" if enabled else "Disabled"
    app.notify(_counted(verb, done, len(targets), "no longer exist"), timeout=4)


async def _test(app: ByokApp, targets: list[Target]) -> None:
    facade = await app.data.get_facade()
    done = failing = 0
    ids = [iid for iid, _ in targets]
    async for result in facade.check_many(app.data.tenant_id, integration_ids=ids):
        done += 1
        failing += result.health_state == HealthState.FAILING
    app.notify(f"Tested {done:,}: {failing:,} failing.", title="Test marked", timeout=6)


def _counted(verb: str, done: int, asked: int, missing: str) -> str:
    text = f"{verb} {done:,} of {asked:,} integrations."
    if done < asked:
        text += f" {asked - done:,} {missing}."
    return text
