"""`byok list, show, add, edit, rm, enable, disable`: the integrations themselves.

Input is checked before anything is written (a bad REF, option or credential exits 64 with the
database untouched). Output is the contract's result models: JSON with `--json`
(`model_dump(mode="json")`), a plain table otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.enums import IntegrationStatus, ProviderType
from core.timeutil import BUDGET_PERIODS
from tui.cli import output as fmt
from tui.cli.args import add_command, json_option, non_negative_int
from tui.cli.credentials import credential_from_args
from tui.cli.errors import UsageError
from tui.cli.lookup import act_on, every, resolve, still_there
from tui.errors import EX_DATAERR, EX_OK

if TYPE_CHECKING:
    from core import IntegrationDetailResult, IntegrationsFacade, IntegrationSummaryResult
    from tui.cli.args import Subcommands

PROVIDERS = [p.value for p in ProviderType]
STATUSES = [s.value for s in IntegrationStatus]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    p = add_command(sub, common, "list", "list integrations, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--provider", choices=PROVIDERS, metavar="P", help=", ".join(PROVIDERS))
    p.add_argument("--search", metavar="Q", help="match name, provider or model")
    json_option(p)
    p.set_defaults(handler=cmd_list)

    p = add_command(sub, common, "show", "show one integration")
    p.add_argument("ref", metavar="REF", help="integration id or name")
    json_option(p)
    p.set_defaults(handler=cmd_show)

    p = add_command(sub, common, "add", "add an integration")
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--provider", required=True, choices=PROVIDERS, metavar="P", help=", ".join(PROVIDERS)
    )
    _integration_options(p, adding=True)
    p.set_defaults(handler=cmd_add)

    p = add_command(sub, common, "edit", "change an integration (only the options given)")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--name", metavar="NAME", help="rename it")
    _integration_options(p, adding=False)
    p.set_defaults(handler=cmd_edit)

    p = add_command(
        sub, common, "rm", "delete an integration (its usage and health history are kept)"
    )
    p.add_argument("ref", metavar="REF")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    json_option(p)
    p.set_defaults(handler=cmd_rm)

    for name, text, handler in (
        ("enable", "enable an integration", cmd_enable),
        ("disable", "disable it", cmd_disable),
    ):
        p = add_command(sub, common, name, text)
        p.add_argument("ref", metavar="REF")
        json_option(p)
        p.set_defaults(handler=handler)


def _integration_options(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    cred = parser.add_argument_group("credential (a raw key is never taken from the command line)")
    cred.add_argument(
        "--credential",
        metavar="REF",
        help="a reference only: env:NAME (read from the environment when used) or "
        "file:/absolute/path (read when used, e.g. a mounted secret)",
    )
    cred.add_argument(
        "--credential-stdin",
        action="store_true",
        help="read a raw key from the first line of standard input (it is stored encrypted)",
    )
    cred.add_argument(
        "--credential-prompt",
        action="store_true",
        help="ask for a raw key without echo"
        + (
            " (the default when the provider needs a key and stdin is a terminal)" if adding else ""
        ),
    )
    parser.add_argument("--model", metavar="M", help="the default model")
    if not adding:
        parser.add_argument("--clear-model", action="store_true", help="remove the default model")
    parser.add_argument("--base-url", metavar="URL", help="the provider's API root (endpoint)")
    parser.add_argument("--api-version", metavar="V", help="API version (azure_openai)")
    parser.add_argument("--region", metavar="R", help="AWS region (bedrock)")
    parser.add_argument(
        "--budget-cents", metavar="N", type=non_negative_int, help="budget a period (0 = none)"
    )
    parser.add_argument(
        "--token-limit", metavar="N", type=non_negative_int, help="tokens a period (0 = none)"
    )
    parser.add_argument(
        "--budget-period",
        choices=BUDGET_PERIODS,
        help="the period of the budget and token limits, UTC: day, week (from Monday 00:00) "
        "or month (the default)",
    )
    parser.add_argument(
        "--alert-thresholds",
        metavar="P,P",
        help="percents of the budget and token limits that raise an alert (default 80,100; "
        "'' for none)",
    )
    parser.add_argument(
        "--rpm", metavar="N", type=non_negative_int, help="requests per minute (0 = none)"
    )
    parser.add_argument(
        "--limits-source",
        metavar="S",
        help="what the limits count: recorded, reported (by the provider, after byok sync) or "
        "max (the larger; the default)",
    )
    if not adding:
        parser.add_argument(
            "--provider-key-id",
            metavar="ID",
            help="tie it to the provider's key id, as `byok account link` does",
        )
        parser.add_argument(
            "--account", metavar="NAME", help="the account of --provider-key-id, if several"
        )
    json_option(parser)


def _summary_row(item: IntegrationSummaryResult) -> list[str]:
    return [
        item.name,
        item.provider_type.value,
        item.status.value,
        item.health_state.value,
        item.default_model or "-",
        item.id,
    ]


async def cmd_list(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    filters = {"status": args.status, "provider_type": args.provider, "search": args.search}
    items = await every(facade, args.tenant, **filters)
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
        ("limits count", d.limits_source),
        ("budget period", f"{d.budget_period} (UTC)"),
        ("alert thresholds", ", ".join(f"{t}%" for t in d.alert_thresholds) or "none"),
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


def _limit_changes(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "budget_limit_cents": args.budget_cents,
        "token_limit_month": args.token_limit,
        "rate_limit_rpm": args.rpm,
        "limits_source": args.limits_source,
        "budget_period": args.budget_period,
        "alert_thresholds": args.alert_thresholds,
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
    if config:  # merged into the stored settings under the lock, so parallel edits all land
        changes["config_patch"] = config
    credential = credential_from_args(
        args, provider=current.provider_type.value, label=current.name, adding=False
    )
    if credential is not None:
        changes["credential"] = credential
    if args.account is not None and args.provider_key_id is None:
        raise UsageError("--account names the account of --provider-key-id: give both")
    if not changes and args.provider_key_id is None:
        raise UsageError("nothing to change: give at least one option (byok edit --help)")
    link = None
    if args.provider_key_id is not None:  # checked before anything is changed
        link = await asyncio.to_thread(
            facade.spend().plan_link, args.tenant, current.id, args.provider_key_id, args.account
        )
    detail = current
    if changes:
        detail = still_there(
            await facade.update_integration(args.tenant, current.id, **changes), args
        )
    if link is not None:
        await asyncio.to_thread(facade.spend().commit_link, link)
    _print_detail(detail, args.json)
    if link is not None and not args.json:
        fmt.say(f"linked to {link['provider_key_id']} ({link['account']})")
    return EX_OK


def _confirm(question: str) -> bool:
    sys.stderr.write(fmt.visible(f"{question} [y/N] "))
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
        fmt.say(f"deleted {current.name} ({current.id})")
    else:
        fmt.say(f"{current.name} was already gone")
    return EX_OK


async def _lifecycle(
    facade: IntegrationsFacade,
    args: argparse.Namespace,
    action: Callable[[str, str], Awaitable[Any]],
) -> int:
    _, result = await act_on(facade, args, action)
    if args.json:
        fmt.print_json(result)
    else:
        fmt.say(result.message)
    return EX_OK


async def cmd_enable(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    return await _lifecycle(facade, args, facade.enable_integration)


async def cmd_disable(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    return await _lifecycle(facade, args, facade.disable_integration)
