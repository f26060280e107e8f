"""`byok watch` (the server-side companion), `byok watch status` and `byok alerts test CHANNEL`.

`watch` runs in the foreground until SIGTERM, SIGHUP or Ctrl+C (systemd's way), logging to
stderr: plain lines, or JSON lines with `--log-json`. See core.watch for what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli import output as fmt
from tui.cli.args import add_command, json_option, non_negative_float, non_negative_int, port
from tui.cli.errors import CommandError, UsageError
from tui.errors import EX_OK

if TYPE_CHECKING:
    from core import IntegrationsFacade
    from core.watch.channels import Channel
    from tui.cli.args import Subcommands

EX_UNAVAILABLE = 69  # a channel did not take the test message
DEFAULT_METRICS = "127.0.0.1:9464"
OUTBOX_COLUMNS = fmt.Columns(
    ["CREATED (UTC)", "CHANNEL", "KIND", "STATE", "TRIES", "TITLE"], flexible=(5,)
)


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        common,
        "watch",
        "keep watch: probe stale integrations, deliver alerts, serve Prometheus metrics",
    )
    p.add_argument("action", nargs="?", choices=["status"], help="status: the watcher, the outbox")
    p.add_argument(
        "--probe-every",
        metavar="SECONDS",
        type=_positive_seconds,
        default=300.0,
        help="probe an enabled integration again once its last probe is this old (default 300)",
    )
    p.add_argument(
        "--round",
        metavar="SECONDS",
        type=_positive_seconds,
        default=5.0,
        help="seconds between rounds of work (default 5)",
    )
    p.add_argument(
        "--lease-ttl",
        metavar="SECONDS",
        type=_positive_seconds,
        default=30.0,
        help="a watcher silent this long is taken over by a standby one (default 30)",
    )
    p.add_argument("--concurrency", metavar="N", type=non_negative_int, help="probes at once")
    p.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        default=DEFAULT_METRICS,
        help=f"where to serve /metrics (default {DEFAULT_METRICS}; 'off': nowhere)",
    )
    p.add_argument(
        "--metrics-every",
        metavar="SECONDS",
        type=_positive_seconds,
        default=15.0,
        help="re-render the metrics this often, and after each probe round (default 15)",
    )
    p.add_argument(
        "--channels",
        metavar="PATH",
        help="the channels file (default: "
        "channels.toml in the config directory, env BYOK_CONFIG_DIR)",
    )
    for flag, meta, parse, default, words in (
        ("--sync-every", "SECONDS", _off_or(_positive_seconds), 3600.0,
         "run the provider spend sync this often when accounts exist"),
        ("--runway-days", "DAYS", _off_or(_positive), 7.0,
         "alert when an account's credit runway drops below this many days"),
        ("--drift-percent", "PERCENT", _off_or(_positive), 20.0,
         "alert when a day's recorded and reported spend differ by more than this"),
        ("--drift-floor-cents", "CENTS", _positive, 100.0, "...and by at least this many cents"),
    ):  # fmt: skip
        off = "; 'off': never" if flag != "--drift-floor-cents" else ""
        p.add_argument(flag, metavar=meta, type=parse, default=default,
                       help=f"{words} (default {default:g}{off})")  # fmt: skip
    p.add_argument("--log-json", action="store_true", help="log JSON lines on stderr")
    json_option(p)
    p.set_defaults(handler=cmd_watch)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.05 <= value <= 86400 * 7:
        raise argparse.ArgumentTypeError(f"{text} is not between 0.05 and 604800 seconds")
    return value


def _positive(text: str) -> float:
    """A finite number above 0."""
    if (value := non_negative_float(text)) > 0:
        return value
    raise argparse.ArgumentTypeError("must be more than 0")


def _off_or(parse: Any) -> Any:
    """`off` (None: the feature is off) or what `parse` makes of the text."""

    def parse_or_off(text: str) -> float | None:
        return None if text == "off" else parse(text)

    return parse_or_off


def metrics_address(text: str) -> tuple[str, int] | None:
    if text == "off":
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"--metrics {text!r}: expected HOST:PORT (e.g. {DEFAULT_METRICS}) or off")
    try:
        return host.strip("[]"), port(port_text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--metrics: {exc}") from None


def load_channels(path_text: str | None) -> dict[str, Channel]:
    from core.paths import config_dir
    from core.watch.channels import channels_path
    from core.watch.channels import load_channels as load

    return load(Path(path_text).expanduser() if path_text else channels_path(config_dir()))


# -- logging ------------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """Names come from data: no control character reaches a log line (a terminal or journald)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{when} {record.levelname.lower()} {_printable(record.getMessage())}"


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
            },
            ensure_ascii=True,
        )


def _logging(as_json: bool) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if as_json else _Plain())
    log = logging.getLogger("byok")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


# -- commands -----------------------------------------------------------------------------------


async def cmd_watch(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    if args.action == "status":
        return await watch_status(facade, args)
    from core.watch.metrics import Metrics, MetricsServer
    from core.watch.service import Watcher, WatchOptions

    if args.lease_ttl < 3 * args.round:
        raise UsageError(
            f"--lease-ttl {args.lease_ttl:g} must be at least 3 rounds (--round {args.round:g}): "
            "a watcher renews its lease once a round"
        )
    address = metrics_address(args.metrics)
    channels = load_channels(args.channels)
    log = _logging(args.log_json)
    metrics = Metrics()
    server = None
    if address is not None:
        try:
            server = MetricsServer(metrics, *address)
        except OSError as exc:
            raise CommandError(
                f"cannot serve metrics on {args.metrics}: {exc.strerror}", 71
            ) from None
        server.start()
        host, bound = server.address
        log.info("serving metrics on http://%s:%d/metrics", host, bound)
    options = WatchOptions(
        probe_every_s=args.probe_every,
        round_s=args.round,
        lease_ttl_s=args.lease_ttl,
        metrics_every_s=args.metrics_every,
        concurrency=args.concurrency,
        sync_every_s=args.sync_every,
        runway_days=args.runway_days,
        drift_percent=args.drift_percent,
        drift_floor_cents=args.drift_floor_cents,
    )
    watcher = Watcher(facade, channels, options, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, log, sig))
    try:
        await watcher.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if server is not None:
            server.stop()
    log.info("stopped")
    return EX_OK


def _stopper(stop: asyncio.Event, log: logging.Logger, sig: signal.Signals) -> Any:
    def handler() -> None:
        if not stop.is_set():
            log.info("%s: finishing the round and stopping", sig.name)
        stop.set()

    return handler


async def watch_status(facade: IntegrationsFacade, args: argparse.Namespace) -> int:
    from core.timeutil import from_us
    from core.watch.status import watcher_status

    found = await asyncio.to_thread(
        watcher_status, facade.db_path, int(time.time() * 1e6), items=None
    )
    lease = found.lease if found is not None and found.running else None
    watcher = None
    if lease is not None:
        watcher = {
            "pid": lease.pid,
            "host": lease.host,
            "since": from_us(lease.since_us),
            "renewed_at": from_us(lease.renewed_us),
        }
    outbox = [
        {
            "id": i.id,
            "channel": i.channel,
            "kind": i.kind,
            "state": i.state,
            "attempts": i.attempts,
            "title": i.title,
            "integration_id": i.integration_id,
            "alert_id": i.alert_id,
            "created_at": i.created_at,
            "delivered_at": i.delivered_at,
            "last_error": i.last_error,
        }
        for i in (found.outbox if found is not None else [])
    ]
    if args.json:
        fmt.print_json({"watcher": watcher, "outbox": outbox})
        return EX_OK
    if watcher is None and found is not None and found.lease is not None:
        dead = found.lease
        renewed = from_us(dead.renewed_us).strftime("%Y-%m-%d %H:%M:%S")
        print(f"no watcher is running: the lease of pid {dead.pid} on {dead.host} is stale "
              f"(last renewed {renewed} UTC; its process died)")  # fmt: skip
    elif watcher is None:
        print("no watcher is running on this database")
    else:
        since = watcher["since"].strftime("%Y-%m-%d %H:%M:%S")
        print(f"watcher: pid {watcher['pid']} on {watcher['host']}, running since {since} UTC")

    def row(i: dict[str, Any]) -> list[str]:
        return [
            i["created_at"].strftime("%Y-%m-%d %H:%M"),
            i["channel"],
            i["kind"],
            i["state"],
            str(i["attempts"]),
            i["title"],
        ]

    fmt.results(outbox, False, "the outbox is empty", OUTBOX_COLUMNS, row)
    return EX_OK


async def send_test(facade: IntegrationsFacade, name: str, channels_file: str | None) -> int:
    """`byok alerts test CHANNEL`: one message through the channel now (not via the outbox)."""
    from core.watch.channels import DeliveryError

    channels = load_channels(channels_file)
    channel = channels.get(name)
    if channel is None:
        known = ", ".join(sorted(channels)) or "none configured"
        raise UsageError(f"no channel named {name!r} (channels: {known})")
    ctx = facade.context
    try:
        await asyncio.to_thread(
            channel.send,
            "byok: test message",
            f"A test of the channel {name} from byok on {facade.db_path}.",
            vault=ctx.vault,
            db_path=ctx.db_path,
            environ=ctx.environ,
        )
    except DeliveryError as exc:
        raise CommandError(str(exc), EX_UNAVAILABLE) from None
    print(f"the channel {name} took the test message")
    return EX_OK
