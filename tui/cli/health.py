"""`byok test` and `byok log`: probe providers now, and read the health log.

`test` exits with the worst health it found (0 healthy, 1 degraded, 2 failing or unknown), so a
monitor can run it as a check.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.enums import HealthState
from tui.cli import output as fmt
from tui.cli.args import add_command, history_options, json_option, non_negative_int
from tui.cli.errors import UsageError
from tui.cli.lookup import every, resolve
from tui.errors import EX_OK

if TYPE_CHECKING:
    from core import HealthCheckResult, IntegrationsFacade
    from tui.cli.args import Subcommands

PROBE_CONCURRENCY = 16

HEALTH_EXIT = {
    HealthState.HEALTHY: 0,
    HealthState.DEGRADED: 1,
    HealthState.FAILING: 2,
    HealthState.UNKNOWN: 2,  # a probe that could not decide is not "healthy" to a monitor
}

TEST_COLUMNS = fmt.Columns(
    ["NAME", "HEALTH", "REASON", "LATENCY", "MESSAGE"], flexible=(0, 4), coloured=(1,)
)
LOG_COLUMNS = fmt.Columns(
    ["CHECKED (UTC)", "NAME", "HEALTH", "REASON", "LATENCY", "MESSAGE"],
    flexible=(1, 5),
    coloured=(2,),
)


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        common,
        "test",
        "probe providers now (exit 0 healthy, 1 degraded, 2 failing; the worst counts)",
    )
    p.add_argument("refs", metavar="REF", nargs="*")
    p.add_argument("--all", action="store_true", help="every integration, disabled ones included")
    p.add_argument(
        "--stale",
        metavar="SECONDS",
        type=non_negative_int,
        help="only those not checked in the last SECONDS",
    )
    json_option(p)
    p.set_defaults(handler=cmd_test)

    p = add_command(sub, common, "log", "the health log, newest first")
    history_options(p, limit=20)
    p.set_defaults(handler=cmd_log)


async def _targets(facade: IntegrationsFacade, args: argparse.Namespace) -> list[tuple[str, str]]:
    """(id, name) of the integrations to probe: the REFs, --all, or every non-disabled one."""
    if args.refs and args.all:
        raise UsageError("give REFs or --all, not both")
    if args.refs:
        seen: dict[str, str] = {}
        for ref in args.refs:
            detail = await resolve(facade, args.tenant, ref)
            seen.setdefault(detail.id, detail.name)
        return list(seen.items())
    items = await every(facade, args.tenant)
    if not args.all:
        items = [i for i in items if i.status.value != "disabled"]
    return [(i.id, i.name) for i in items]


async def cmd_test(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    targets = await _targets(facade, args)
    names = dict(targets)
    order = {iid: index for index, (iid, _) in enumerate(targets)}
    # check_many: bounded concurrency, results stored in a few batched commits; --stale is
    # judged by the core's clock, like the console's background probes.
    found = [
        r
        async for r in facade.check_many(
            args.tenant,
            integration_ids=list(names),
            stale_after_s=args.stale,
            concurrency=PROBE_CONCURRENCY,
        )
    ]
    results = sorted(found, key=lambda r: order[r.integration_id])  # the order asked for

    def row(r: HealthCheckResult) -> list[str]:
        return [
            names.get(r.integration_id, r.integration_id),
            r.health_state.value,
            r.reason,
            f"{r.latency_ms} ms" if r.latency_ms is not None else "-",
            r.message or "",
        ]

    fmt.results(results, args.json, "nothing to test", TEST_COLUMNS, row)
    return max((HEALTH_EXIT[r.health_state] for r in results), default=EX_OK)


def _get(entry: Any, key: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(key)
    return getattr(entry, key, None)


async def cmd_log(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    iid = None
    names: dict[str, str] = {}
    if args.ref is not None:
        detail = await resolve(facade, args.tenant, args.ref)
        iid, names = detail.id, {detail.id: detail.name}
    else:
        names = {i.id: i.name for i in await every(facade, args.tenant)}
    entries = await facade.get_health_log(args.tenant, iid, limit=args.limit)

    def row(e: Any) -> list[str]:
        at = _get(e, "checked_at")
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        latency = _get(e, "latency_ms")
        state = _get(e, "health_state")
        iid_e = str(_get(e, "integration_id"))
        return [
            at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-",
            names.get(iid_e) or str(_get(e, "integration_name") or iid_e),
            str(getattr(state, "value", state)),
            str(_get(e, "reason") or "-"),
            f"{latency} ms" if latency is not None else "-",
            str(_get(e, "message") or ""),
        ]

    fmt.results(entries, args.json, "the health log is empty", LOG_COLUMNS, row)
    return EX_OK
