"""The `byok` subcommands for scripts: each one opens the facade, does one thing, prints it.

Input is checked before anything is written (a bad REF, option or credential exits 64 with the
database untouched). Output is the contract's result models: JSON with `--json`
(`model_dump(mode="json")`), a plain table otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from core import (
    HealthState,
    IntegrationDetailResult,
    IntegrationsFacade,
    IntegrationSummaryResult,
    LimitsStatusResult,
    ValidationError,
)
from core.models import Decision
from tui.cli import output as fmt
from tui.cli.credentials import CredentialUsageError, credential_from_args
from tui.cli.errors import EX_DATAERR, EX_OK, EX_USAGE, UsageError

PAGE = 1000
PROBE_CONCURRENCY = 16

HEALTH_EXIT = {
    HealthState.HEALTHY: 0,
    HealthState.DEGRADED: 1,
    HealthState.FAILING: 2,
    HealthState.UNKNOWN: 2,  # a probe that could not decide is not "healthy" to a monitor
}
DECISION_EXIT = {
    Decision.ALLOWED: 0,
    Decision.WARNED: 1,
    Decision.THROTTLED: 1,
    Decision.BLOCKED: 2,
}


async def run(args: argparse.Namespace) -> int:
    handler = HANDLERS[args.command if args.command != "usage" else f"usage {args.usage_command}"]
    # Only `add` creates a database: any other command on a missing one is a typo (or a lost
    # file) to report, not an empty database to create and read as "all green".
    facade = IntegrationsFacade(args.db or None, create=handler is cmd_add)
    try:
        return await handler(facade, args)
    except CredentialUsageError as exc:
        raise UsageError(str(exc)) from None
    finally:
        await facade.aclose()


# -- helpers ------------------------------------------------------------------------------------


async def _all(facade: IntegrationsFacade, tenant: str, **filters: Any) -> list[Any]:
    items: list[IntegrationSummaryResult] = []
    while True:
        page = await facade.list_integrations(tenant, offset=len(items), limit=PAGE, **filters)
        items.extend(page.items)
        if not page.items or len(items) >= page.total:
            return items


async def resolve(facade: IntegrationsFacade, tenant: str, ref: str) -> IntegrationDetailResult:
    """An integration by id, else by name (case-insensitive, surrounding spaces ignored)."""
    text = ref.strip()
    if not text:
        raise UsageError("REF cannot be empty: give an integration id or name")
    try:
        found = await facade.get_integration(tenant, text)
    except ValidationError:
        found = None
    if found is not None:
        return found
    key = text.casefold()
    try:
        candidates = await _all(facade, tenant, search=text)
    except ValidationError:
        candidates = []
    for item in candidates:
        if item.name.strip().casefold() == key:
            detail = await facade.get_integration(tenant, item.id)
            if detail is not None:
                return detail
    if len(key) >= 6 and all(ch in "0123456789abcdef" for ch in key):
        # A unique id prefix, as the 80-column list shows ids shortened (like git's short ids).
        prefixed = [i for i in await _all(facade, tenant) if i.id.startswith(key)]
        if len(prefixed) > 1:
            raise UsageError(f"{ref!r} is the start of several ids: give more of it")
        if prefixed:
            detail = await facade.get_integration(tenant, prefixed[0].id)
            if detail is not None:
                return detail
    raise UsageError(f"no integration {ref!r} in tenant {tenant!r} (give an id or a name)")


def _worst(codes: list[int]) -> int:
    return max(codes, default=EX_OK)


def _summary_row(item: IntegrationSummaryResult) -> list[str]:
    return [
        item.name,
        item.provider_type.value,
        item.status.value,
        item.health_state.value,
        item.default_model or "-",
        item.id,
    ]


# -- integrations -------------------------------------------------------------------------------


async def cmd_list(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    filters = {"status": args.status, "provider_type": args.provider, "search": args.search}
    items = await _all(facade, args.tenant, **filters)
    if args.json:
        fmt.print_json({"items": items, "total": len(items)})
        return EX_OK
    if not items:
        print("no integrations" + (" match" if any(filters.values()) else " yet: byok add --help"))
        return EX_OK
    fmt.table(
        ["NAME", "PROVIDER", "STATUS", "HEALTH", "MODEL", "ID"],
        [_summary_row(i) for i in items],
        flexible=(0, 4),
        coloured=(2, 3),
        shrink_first=(5,),
    )
    return EX_OK


def _detail_pairs(d: IntegrationDetailResult) -> list[tuple[str, str]]:
    pairs = [
        ("id", d.id),
        ("name", d.name),
        ("tenant", d.tenant_id),
        ("provider", d.provider_type.value),
        ("status", d.status.value),
        ("health", d.health_state.value),
        ("health reason", d.health_reason or "-"),
        ("health message", d.health_message or "-"),
        ("checked", fmt.when(d.health_checked_at)),
        ("latency", f"{d.health_latency_ms} ms" if d.health_latency_ms is not None else "-"),
        ("model", d.default_model or "-"),
        ("credential", f"{d.credential_hint or '-'} ({d.credential_source.value})"),
        ("budget", fmt.cents(d.budget_limit_cents) if d.budget_limit_cents else "unlimited"),
        ("token limit", f"{d.token_limit_month:,}" if d.token_limit_month else "unlimited"),
        ("rate limit", f"{d.rate_limit_rpm} rpm" if d.rate_limit_rpm else "unlimited"),
    ]
    pairs += [(f"config.{k}", str(v)) for k, v in sorted(d.config.items())]
    pairs += [
        ("created", f"{d.created_at.isoformat()} by {d.created_by or '?'}"),
        ("updated", d.updated_at.isoformat() if d.updated_at else "-"),
    ]
    return pairs


def _print_detail(detail: IntegrationDetailResult, as_json: bool) -> None:
    if as_json:
        fmt.print_json(detail)
    else:
        fmt.fields(_detail_pairs(detail))


async def cmd_show(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    _print_detail(await resolve(facade, args.tenant, args.ref), args.json)
    return EX_OK


def _config_changes(args: argparse.Namespace) -> dict[str, str]:
    pairs = {"base_url": args.base_url, "api_version": args.api_version, "region": args.region}
    return {k: v for k, v in pairs.items() if v is not None}


def _limit_changes(args: argparse.Namespace) -> dict[str, int]:
    pairs = {
        "budget_limit_cents": args.budget_cents,
        "token_limit_month": args.token_limit,
        "rate_limit_rpm": args.rpm,
    }
    return {k: v for k, v in pairs.items() if v is not None}


async def cmd_add(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    credential = credential_from_args(
        args, provider=args.provider, label=args.name.strip(), adding=True
    )
    detail = await facade.create_integration(
        args.tenant,
        name=args.name,
        provider_type=args.provider,
        credential=credential or "",
        default_model=args.model,
        config=_config_changes(args),
        **_limit_changes(args),
    )
    _print_detail(detail, args.json)
    return EX_OK


async def cmd_edit(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    current = await resolve(facade, args.tenant, args.ref)
    if args.model is not None and args.clear_model:
        raise UsageError("give --model or --clear-model, not both")
    changes: dict[str, Any] = dict(_limit_changes(args))
    if args.name is not None:
        changes["name"] = args.name
    if args.model is not None:
        changes["default_model"] = args.model
    if args.clear_model:
        changes["default_model"] = None
    config = _config_changes(args)
    if config:
        changes["config"] = {**current.config, **config}
    credential = credential_from_args(
        args, provider=current.provider_type.value, label=current.name, adding=False
    )
    if credential is not None:
        changes["credential"] = credential
    if not changes:
        raise UsageError("nothing to change: give at least one option (byok edit --help)")
    detail = await facade.update_integration(args.tenant, current.id, **changes)
    if detail is None:  # deleted by another process in between
        raise UsageError(f"no integration {args.ref!r} in tenant {args.tenant!r}")
    _print_detail(detail, args.json)
    return EX_OK


def _confirm(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


async def cmd_rm(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    current = await resolve(facade, args.tenant, args.ref)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"not deleting {current.name!r}: no terminal to confirm on; add --yes")
        if not _confirm(f"Delete {current.name} ({current.provider_type.value}, {current.id})?"):
            sys.stderr.write("byok: not deleted\n")
            return EX_DATAERR
    result = await facade.delete_integration(args.tenant, current.id)
    if args.json:
        fmt.print_json(result)
    elif result.deleted:
        print(f"deleted {current.name} ({current.id})")
    else:
        print(f"{current.name} was already gone")
    return EX_OK


async def _lifecycle(
    facade: IntegrationsFacade,
    args: argparse.Namespace,
    action: Callable[[str, str], Awaitable[Any]],
) -> int:
    current = await resolve(facade, args.tenant, args.ref)
    result = await action(args.tenant, current.id)
    if result is None:
        raise UsageError(f"no integration {args.ref!r} in tenant {args.tenant!r}")
    if args.json:
        fmt.print_json(result)
    else:
        print(result.message)
    return EX_OK


async def cmd_enable(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    return await _lifecycle(facade, args, facade.enable_integration)


async def cmd_disable(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    return await _lifecycle(facade, args, facade.disable_integration)


# -- health -------------------------------------------------------------------------------------


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
    items = await _all(facade, args.tenant)
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
    if args.json:
        fmt.print_json(results)
    elif not results:
        print("nothing to test")
    else:
        fmt.table(
            ["NAME", "HEALTH", "REASON", "LATENCY", "MESSAGE"],
            [
                [
                    names.get(r.integration_id, r.integration_id),
                    r.health_state.value,
                    r.reason,
                    f"{r.latency_ms} ms" if r.latency_ms is not None else "-",
                    r.message or "",
                ]
                for r in results
            ],
            flexible=(0, 4),
            coloured=(1,),
        )
    return _worst([HEALTH_EXIT[r.health_state] for r in results])


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
        names = {i.id: i.name for i in await _all(facade, args.tenant)}
    entries = await facade.get_health_log(args.tenant, iid, limit=args.limit)
    if args.json:
        fmt.print_json(entries)
        return EX_OK
    if not entries:
        print("the health log is empty")
        return EX_OK
    rows = []
    for e in entries:
        at = _get(e, "checked_at")
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        latency = _get(e, "latency_ms")
        state = _get(e, "health_state")
        iid_e = str(_get(e, "integration_id"))
        rows.append(
            [
                at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-",
                names.get(iid_e) or str(_get(e, "integration_name") or iid_e),
                str(getattr(state, "value", state)),
                str(_get(e, "reason") or "-"),
                f"{latency} ms" if latency is not None else "-",
                str(_get(e, "message") or ""),
            ]
        )
    fmt.table(
        ["CHECKED (UTC)", "NAME", "HEALTH", "REASON", "LATENCY", "MESSAGE"],
        rows,
        flexible=(1, 5),
        coloured=(2,),
    )
    return EX_OK


# -- usage and limits ---------------------------------------------------------------------------


def limits_exit(status: LimitsStatusResult) -> int:
    """2 when a budget or token limit is reached, 1 at 80% or at the rate limit, else 0."""
    hard = max(status.budget_percent, status.token_percent)
    if hard >= 100:
        return 2
    if hard >= 80 or (status.rate_limit_rpm and status.rate_percent >= 100):
        return 1
    return 0


def _pct(limit: int, percent: float) -> str:
    return f"{percent:.0f}%" if limit else "-"


async def cmd_limits(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    if args.ref is not None:
        detail = await resolve(facade, args.tenant, args.ref)
        targets = [(detail.id, detail.name)]
    else:
        targets = [(i.id, i.name) for i in await _all(facade, args.tenant)]
    statuses: list[tuple[str, LimitsStatusResult]] = []
    for iid, name in targets:
        status = await facade.get_limits_status(args.tenant, iid)
        if status is not None:
            statuses.append((name, status))
    if args.json:
        fmt.print_json(statuses[0][1] if args.ref is not None else [s for _, s in statuses])
    elif not statuses:
        print("no integrations")
    else:
        fmt.table(
            ["NAME", "SPENT", "BUDGET", "%", "TOKENS", "LIMIT", "%", "RPM", "LIMIT", "%"],
            [
                [
                    name,
                    fmt.cents(s.budget_used_cents),
                    fmt.cents(s.budget_limit_cents) if s.budget_limit_cents else "-",
                    _pct(s.budget_limit_cents, s.budget_percent),
                    fmt.tokens(s.tokens_used_month),
                    fmt.tokens(s.token_limit_month) if s.token_limit_month else "-",
                    _pct(s.token_limit_month, s.token_percent),
                    str(s.requests_this_minute),
                    str(s.rate_limit_rpm) if s.rate_limit_rpm else "-",
                    _pct(s.rate_limit_rpm, s.rate_percent),
                ]
                for name, s in statuses
            ],
            flexible=(0,),
        )
    return _worst([limits_exit(s) for _, s in statuses])


async def cmd_usage_record(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    current = await resolve(facade, args.tenant, args.ref)
    result = await facade.record_usage(
        args.tenant,
        current.id,
        model=args.model,
        input_tokens=args.input,
        output_tokens=args.output,
        cost_cents=args.cost_cents,
        call_id=args.call_id,
    )
    if result is None:
        raise UsageError(f"no integration {args.ref!r} in tenant {args.tenant!r}")
    if args.json:
        fmt.print_json(result)
    elif result.duplicate:
        print(f"duplicate call id {args.call_id!r}: already counted, not added again")
    else:
        priced = "" if result.priced else " (no price known for this model: counted as unpriced)"
        print(f"recorded {args.input + args.output} tokens, {result.cost_cents:.4f} cents{priced}")
    return EX_OK


async def cmd_usage_import(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    source: Any = sys.stdin if args.file == "-" else args.file
    report = await facade.import_usage_jsonl(args.tenant, source)
    if args.json:
        fmt.print_json(report)
    else:
        print(
            f"{report.imported} imported, {report.duplicates} duplicates, "
            f"{report.unpriced} unpriced, {report.error_count} bad of {report.lines} lines; "
            f"cost {report.cost_cents:.2f} cents"
        )
        for err in report.errors[:20]:
            sys.stderr.write(f"byok: {args.file}:{err.line}: {err.message}\n")
        if report.error_count > 20:
            sys.stderr.write(f"byok: ... and {report.error_count - 20} more bad lines\n")
    return EX_DATAERR if report.error_count else EX_OK


async def cmd_check(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    current = await resolve(facade, args.tenant, args.ref)
    decision = await facade.check_limits(
        args.tenant,
        current.id,
        estimated_tokens=args.tokens,
        estimated_cost_cents=args.cost_cents,
    )
    if decision is None:
        raise UsageError(f"no integration {args.ref!r} in tenant {args.tenant!r}")
    if args.json:
        fmt.print_json(decision)
    else:
        line = f"{current.name}: {decision.decision.value}"
        if decision.retry_after_s is not None:
            line += f" (retry after {decision.retry_after_s:.1f} s)"
        print(fmt.paint(line, decision.decision.value, fmt.use_colour(sys.stdout)))
        for reason in decision.reasons:
            print(f"  - {reason}")
    return DECISION_EXIT[decision.decision]


async def cmd_alerts(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    iid = None
    if args.ref is not None:
        iid = (await resolve(facade, args.tenant, args.ref)).id
    alerts = await facade.get_alerts(args.tenant, iid, limit=args.limit)
    if args.json:
        fmt.print_json(alerts)
    elif not alerts:
        print("no alerts")
    else:
        fmt.table(
            ["RAISED (UTC)", "NAME", "KIND", "AT", "MESSAGE"],
            [
                [
                    a.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                    a.integration_name or a.integration_id,
                    a.kind,
                    f"{a.threshold}%",
                    a.message,
                ]
                for a in alerts
            ],
            flexible=(1, 4),
        )
    return EX_OK


Handler = Callable[[IntegrationsFacade, argparse.Namespace], Awaitable[int]]
HANDLERS: dict[str, Handler] = {
    "list": cmd_list,
    "show": cmd_show,
    "add": cmd_add,
    "edit": cmd_edit,
    "rm": cmd_rm,
    "enable": cmd_enable,
    "disable": cmd_disable,
    "test": cmd_test,
    "log": cmd_log,
    "limits": cmd_limits,
    "usage record": cmd_usage_record,
    "usage import": cmd_usage_import,
    "check": cmd_check,
    "alerts": cmd_alerts,
}

__all__ = ["EX_USAGE", "HANDLERS", "run"]
