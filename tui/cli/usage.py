"""`byok limits, usage record, usage import, check, alerts`: usage against the limits.

`limits` and `check` exit as a monitor reads them: 0 under the limits (allowed), 1 near one
(warned or throttled), 2 at one (blocked); the worst integration counts.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from typing import TYPE_CHECKING, Any

from tui.cli import output as fmt
from tui.cli.args import (
    ByokArgumentParser,
    add_command,
    history_options,
    json_option,
    non_negative_float,
    non_negative_int,
)
from tui.cli.errors import UsageError
from tui.cli.lookup import act_on, every, resolve
from tui.errors import EX_DATAERR, EX_OK

if TYPE_CHECKING:
    from core import Alert, IntegrationsFacade, LimitsStatusResult, WatchAlert
    from tui.cli.args import Subcommands

# By the values of core.models.Decision, a str-valued enum, so that a Decision finds its entry:
# importing Decision would load pydantic for every `byok`, the console's start included.
DECISION_EXIT = {"allowed": 0, "warned": 1, "throttled": 1, "blocked": 2}
ALERT_COLUMNS = fmt.Columns(["RAISED (UTC)", "NAME", "KIND", "AT", "MESSAGE"], flexible=(1, 4))


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        common,
        "limits",
        "usage against limits this month (exit 0 under 80%%, 1 at 80%% or rate limit "
        "reached, 2 at 100%%)",
    )
    p.add_argument("ref", metavar="REF", nargs="?")
    json_option(p)
    p.set_defaults(handler=cmd_limits)

    usage = add_command(sub, common, "usage", "record or import usage")
    actions = usage.add_subparsers(
        dest="usage_command", metavar="ACTION", parser_class=ByokArgumentParser, required=True
    )
    p = add_command(actions, common, "record", "record one call")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--model", required=True, metavar="M")
    p.add_argument("--input", required=True, type=non_negative_int, metavar="N")
    p.add_argument("--output", required=True, type=non_negative_int, metavar="N")
    p.add_argument("--cost-cents", type=non_negative_float, metavar="C")
    p.add_argument("--call-id", metavar="ID", help="idempotency key: a repeat counts once")
    json_option(p)
    p.set_defaults(handler=cmd_usage_record)
    p = add_command(
        actions,
        common,
        "import",
        "import a JSON Lines usage file",
        "import a JSON Lines usage file (exit 65 when some lines are bad)",
    )
    p.add_argument("file", metavar="FILE.jsonl", help="a path, or - for standard input")
    p.add_argument(
        "--integration",
        metavar="REF",
        help="the integration of lines that name none (a provider's raw response log)",
    )
    json_option(p)
    p.set_defaults(handler=cmd_usage_import)

    p = add_command(
        sub,
        common,
        "check",
        "may this call go ahead? (exit 0 allowed, 1 warned or throttled, 2 blocked)",
    )
    p.add_argument("ref", metavar="REF")
    p.add_argument("--tokens", type=non_negative_int, default=0, metavar="N")
    p.add_argument("--cost-cents", type=non_negative_float, default=0.0, metavar="C")
    json_option(p)
    p.set_defaults(handler=cmd_check)

    p = add_command(
        sub,
        common,
        "alerts",
        "alerts, newest first: usage (80%% and 100%% of a limit) and, where `byok watch` runs, "
        "health, runway and drift; `alerts test CHANNEL` sends a test message",
    )
    history_options(p, limit=50)
    p.add_argument("channel", metavar="CHANNEL", nargs="?", help="after `test`: the channel")
    p.add_argument("--channels", metavar="PATH", help="the channels file (for `test`)")
    p.set_defaults(handler=cmd_alerts)


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
        targets = [(i.id, i.name) for i in await every(facade, args.tenant)]
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
            ["NAME", "PERIOD", "SPENT", "BUDGET", "%", "TOKENS", "LIMIT", "%", "RPM", "LIMIT", "%"],
            [
                [
                    name,
                    s.budget_period,
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
        for name, s in statuses:
            if s.reported_synced_at is not None:
                fmt.say(_sources_line(name, s))
    return max((limits_exit(s) for _, s in statuses), default=EX_OK)


def _sources_line(name: str, s: LimitsStatusResult) -> str:
    """Where the figures of the table come from, when the provider reported some."""
    return (
        f"{name}: counts {s.limits_source} (spent: {s.budget_source}, tokens: {s.tokens_source}); "
        f"reported by the provider {fmt.cents(s.reported_cents or 0)}, "
        f"{fmt.tokens(s.reported_tokens or 0)} tokens (synced {fmt.when(s.reported_synced_at)}); "
        f"recorded {fmt.cents(s.recorded_cents)}, {fmt.tokens(s.recorded_tokens)} tokens"
    )


async def cmd_usage_record(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    _, result = await act_on(
        facade,
        args,
        facade.record_usage,
        model=args.model,
        input_tokens=args.input,
        output_tokens=args.output,
        cost_cents=args.cost_cents,
        call_id=args.call_id,
    )
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
    report = await facade.import_usage_jsonl(args.tenant, source, integration=args.integration)
    if args.json:
        fmt.print_json(report)
    else:
        print(
            f"{report.imported} imported, {report.duplicates} duplicates, "
            f"{report.unpriced} unpriced, {report.error_count} bad of {report.lines} lines; "
            f"cost {report.cost_cents:.2f} cents"
        )
        for err in report.errors[:20]:
            fmt.say(f"byok: {args.file}:{err.line}: {err.message}", sys.stderr)
        if report.error_count > 20:
            sys.stderr.write(f"byok: ... and {report.error_count - 20} more bad lines\n")
    return EX_DATAERR if report.error_count else EX_OK


async def cmd_check(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    current, decision = await act_on(
        facade,
        args,
        facade.check_limits,
        estimated_tokens=args.tokens,
        estimated_cost_cents=args.cost_cents,
    )
    if args.json:
        fmt.print_json(decision)
    else:
        line = f"{current.name}: {decision.decision.value}"
        if decision.retry_after_s is not None:
            line += f" (retry after {decision.retry_after_s:.1f} s)"
        print(fmt.paint(fmt.visible(line), decision.decision.value, fmt.use_colour(sys.stdout)))
        for reason in decision.reasons:
            fmt.say(f"  - {reason}")
    return DECISION_EXIT[decision.decision]


async def cmd_alerts(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    if args.channel is not None:
        if args.ref != "test":
            raise UsageError(
                f"unexpected {args.channel!r}: `byok alerts test CHANNEL` or `byok alerts [REF]`"
            )
        from tui.cli.watch import send_test

        return await send_test(facade, args.channel, args.channels)
    iid = None
    if args.ref is not None:
        iid = (await resolve(facade, args.tenant, args.ref)).id
    from core import WatchAlert

    alerts = await facade.get_every_alert(args.tenant, iid, limit=args.limit)

    def row(a: Alert | WatchAlert) -> list[str]:
        if isinstance(a, WatchAlert):
            at, message = "-", a.title.removeprefix("byok: ")
        else:
            at, message = f"{a.threshold}%", a.message
        return [
            a.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            a.integration_name or a.integration_id or "-",
            a.kind,
            at,
            message,
        ]

    fmt.results(alerts, args.json, "no alerts", ALERT_COLUMNS, row)
    return EX_OK
