"""Where the `byok` command gets a credential from; never from a raw command-line argument.

A raw key in argv lands in shell history, in `ps` output and in audit logs, so `--credential`
accepts only the references `env:NAME` and `file:/absolute/path`. A raw key comes from a no-echo
prompt (getpass) or from the first line of standard input (`--credential-stdin`, for scripts:
`pass show openai | byok add prod --provider openai --credential-stdin`). Wrong credential
options are a UsageError, whose message never holds the key.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from core.providers.catalogue import provider_info
from tui.cli.errors import UsageError

RAW_REFUSED = (
    "--credential takes only env:NAME or file:/absolute/path; a raw key on the command line "
    "would land in shell history and in ps. Give the key at the no-echo prompt "
    "(--credential-prompt) or on standard input (--credential-stdin). The value was not stored."
)


def _reference(text: str) -> str:
    value = text.strip()
    if value.startswith("env:") or value.startswith("file:"):
        if value.startswith("file:") and not os.path.isabs(os.path.expanduser(value[5:].strip())):
            raise UsageError("--credential file: needs an absolute path")
        return value
    raise UsageError(RAW_REFUSED)


def _from_stdin() -> str:
    line = sys.stdin.readline()
    key = line.rstrip("\r\n").strip()
    if not key:
        raise UsageError("--credential-stdin: the first line of standard input is empty")
    return key


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            "cannot prompt for the key: standard input is not a terminal; "
            "use --credential-stdin or --credential env:NAME|file:/path"
        )
    key = getpass.getpass(f"API key for {label} (not echoed): ").strip()
    if not key:
        raise UsageError("no key was entered")
    return key


def credential_from_args(
    args: argparse.Namespace, *, provider: str, label: str, adding: bool
) -> str | None:
    """The credential to store, or None to leave it unchanged (edit) / none needed (add).

    Adding an integration of a provider that needs a key, with no credential option, prompts when
    stdin is a terminal and is a usage error otherwise, so a cron job never hangs on a prompt.
    """
    given = [
        name
        for name, on in (
            ("--credential", args.credential is not None),
            ("--credential-stdin", args.credential_stdin),
            ("--credential-prompt", args.credential_prompt),
        )
        if on
    ]
    if len(given) > 1:
        raise UsageError(f"give only one of {', '.join(given)}")
    if args.credential is not None:
        return _reference(args.credential)
    if args.credential_stdin:
        return _from_stdin()
    if args.credential_prompt:
        return _prompt(label)
    if adding and provider_info(provider).needs_key:
        if sys.stdin.isatty():
            return _prompt(label)
        raise UsageError(
            f"{provider} needs a key: give --credential env:NAME or file:/path, "
            "or pipe the key with --credential-stdin"
        )
    return None
