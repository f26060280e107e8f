"""`byok account add|list|rm|link`, `byok sync`, `byok spend`: spend as the providers report it.

An account's admin credential comes as a key's does (tui.cli.credentials): a reference
(`--credential env:NAME|file:/path`), standard input or a no-echo prompt; never argv.
`sync` exits 0 when every account synced, 1 when some did not (each is said on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from tui.cli import output as fmt
from tui.cli.args import ByokArgumentParser, add_command, json_option, positive_int
from tui.cli.credentials import credential_from_args
from tui.errors import EX_OK

if TYPE_CHECKING:
    from core import IntegrationsFacade
    from tui.cli.args import Subcommands

PROVIDERS = ("openai", "anthropic", "openrouter", "deepseek")
EX_PARTIAL = 1  # some account failed to sync


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    account = add_command(sub, common, "account", "provider accounts (admin keys) for spend sync")
    actions = account.add_subparsers(
        dest="account_command", metavar="ACTION", parser_class=ByokArgumentParser, required=True
    )
    p = add_command(actions, common, "add", "add a provider account")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--provider", required=True, choices=PROVIDERS)
    p.add_argument("--base-url", metavar="URL", help="the admin API root (default: the provider's)")
    cred = p.add_argument_group("credential (never taken raw from the command line)")
    cred.add_argument("--credential", metavar="REF", help="env:NAME or file:/absolute/path")
    cred.add_argument("--credential-stdin", action="store_true", help="the first line of stdin")
    cred.add_argument("--credential-prompt", action="store_true", help="ask without echo")
    json_option(p)
    p.set_defaults(handler=cmd_account_add)
    p = add_command(actions, common, "list", "list the provider accounts")
    json_option(p)
    p.set_defaults(handler=cmd_account_list)
    p = add_command(actions, common, "rm", "remove an account and what was synced from it")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=cmd_account_rm)
    p = add_command(actions, common, "link", "tie an integration to the provider's key id")
    p.add_argument("ref", metavar="REF")
    p.add_argument("key_id", metavar="KEY_ID")
    p.add_argument("--account", metavar="NAME", help="when the tenant has several of its provider")
    json_option(p)
    p.set_defaults(handler=cmd_account_link)

    p = add_command(sub, common, "sync", "read usage, cost and balances from the provider accounts")
    json_option(p)
    p.add_argument("--account", metavar="NAME")
    p.add_argument("--days", type=positive_int, metavar="N", help="re-read the last N days")
    p.set_defaults(handler=cmd_sync)

    p = add_command(sub, common, "spend", "recorded vs provider-reported spend per day, balances")
    p.add_argument("ref", metavar="REF", nargs="?")
    json_option(p)
    p.set_defaults(handler=cmd_spend)


async def cmd_account_add(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    credential = credential_from_args(
        args, provider=args.provider, label=f"account {args.name}", adding=True
    )
    account = await asyncio.to_thread(
        facade.spend().add_account,
        args.tenant,
        args.name,
        args.provider,
        credential or "",
        args.base_url,
    )
    if args.json:
        fmt.print_json(account.public())
    else:
        fmt.say(f"added account {account.name} ({account.provider}, {account.credential_hint})")
    return EX_OK


async def cmd_account_list(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    accounts = await asyncio.to_thread(facade.spend().accounts.list, args.tenant)
    if args.json:
        fmt.print_json([a.public() for a in accounts])
    elif not accounts:
        print("no accounts")
    else:
        fmt.table(
            ["NAME", "PROVIDER", "CREDENTIAL", "BASE URL"],
            [[a.name, a.provider, a.credential_hint or "-", a.base_url] for a in accounts],
            flexible=(3,),
        )
    return EX_OK


async def cmd_account_rm(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    account = await asyncio.to_thread(facade.spend().accounts.remove, args.tenant, args.name)
    fmt.say(f"removed account {account.name} and its synced spend")
    return EX_OK


async def cmd_account_link(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    link = await asyncio.to_thread(
        facade.spend().link, args.tenant, args.ref, args.key_id, args.account
    )
    if args.json:
        fmt.print_json(link)
    else:
        fmt.say(f"linked {link['integration_id']} to {link['provider_key_id']} ({link['account']})")
    return EX_OK


async def cmd_sync(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    reports = await asyncio.to_thread(facade.spend().sync, args.tenant, args.account, args.days)
    if args.json:
        fmt.print_json(reports)
    elif not reports:
        print("no accounts: add one with `byok account add`")
    for r in reports:
        if not args.json:
            fmt.say(_sync_line(r))
        if not r["ok"]:
            fmt.say(f"byok: sync {r['account']}: {r['error']}", sys.stderr)
        for a in r.get("ambiguous") or ():
            fmt.say(
                f"byok: {a['integration_id']} matches several keys {a['key_ids']}"
                f"{' (as does ' + ', '.join(a['shared_with']) + ')' if a['shared_with'] else ''}"
                ": link it by hand with `byok account link REF KEY_ID`",
                sys.stderr,
            )
    return EX_OK if all(r["ok"] for r in reports) else EX_PARTIAL


def _sync_line(r: dict[str, Any]) -> str:
    if not r["ok"]:
        return f"{r['account']}: failed"
    parts = [f"{r['account']}: {r['windows']} windows, {r['rows']} rows"]
    if "linked" in r:
        parts.append(
            f"{len(r['linked'])} linked, {len(r['ambiguous'])} ambiguous, "
            f"{len(r['unmatched'])} unmatched"
        )
    if "balance_cents" in r:
        parts.append(f"balance {r['balance_cents'] / 100:.2f} {r['currency']}")
    return "; ".join(parts)


def _money(value: float | None) -> str:
    return "-" if value is None else fmt.cents(value)


async def cmd_spend(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    report = await asyncio.to_thread(facade.spend().report, args.tenant, args.ref)
    if args.json:
        fmt.print_json(report)
        return EX_OK
    if not report["days"] and not report["balances"]:
        print("nothing synced yet: add an account (byok account add) and run byok sync")
        return EX_OK
    if report["days"]:
        fmt.table(
            ["INTEGRATION", "DAY", "RECORDED", "REPORTED", "FROM", "TOKENS", "DRIFT", "SYNCED"],
            [
                [
                    r["integration_id"][:12],
                    r["period_start"][:10],
                    _money(r["recorded_cents"]),
                    _money(r["reported_cents"]),
                    r["reported_from"],
                    fmt.tokens(r["reported_tokens"]),
                    _money(r["drift_cents"]),
                    r["synced_at"][:16],
                ]
                for r in report["days"]
            ],
            flexible=(0,),
        )
    for b in report["balances"]:
        runway = "-" if b["runway_days"] is None else f"{b['runway_days']:g} days"
        fmt.say(
            f"{b['account']}: balance {b['balance_cents'] / 100:.2f} {b['currency']}, "
            f"runway {runway}"
        )
    return EX_OK
