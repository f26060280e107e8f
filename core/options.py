"""Every option of the facade, in one typed place.

`IntegrationsFacade(db_path, **options)` and `IntegrationsFacade.from_dashboard(dash, **options)`
take these as keyword arguments. `Options.from_kwargs` checks each given value once: a bad value
is a ValidationError naming the option, an unknown name one naming `options`. The services then
read typed attributes (`ctx.options.probe_timeout_s`). Each field declares its default, its check
(from core.validation) and what it means; `Options.docs()` lists them for help texts and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from core import validation as v
from core.errors import ValidationError
from core.timeutil import Clock


def _meta(check: Callable[[object, str], Any], doc: str) -> dict[str, Any]:
    return {"check": check, "doc": doc}


@dataclass(frozen=True, slots=True)
class Options:
    """The facade's options with their defaults; build one with `from_kwargs`."""

    clock: Clock | None = field(default=None, metadata=_meta(
        v.clock, "a callable returning an aware datetime: the time of every record and probe "
        "(tests pin it; None: the system clock)"))
    environ: Mapping[str, str] | None = field(default=None, metadata=_meta(
        v.environ, "where `env:` credentials, $BYOK_MASTER_KEY, $BYOK_KEY_FILE and $BYOK_DB are "
        "read (None: os.environ)"))
    durable: bool = field(default=True, metadata=_meta(
        v.flag, "fsync every commit and its directory (off only for throwaway databases)"))
    master_key: bytes | None = field(default=None, metadata=_meta(
        v.master_key, "32 bytes that seal the stored secrets (None: $BYOK_MASTER_KEY, else the "
        "key file)"))
    probe_timeout_s: float = field(default=10.0, metadata=_meta(
        v.positive, "a probe's overall deadline in seconds (asyncio.timeout, not only httpx's "
        "per-phase timeouts)"))
    probe_connect_timeout_s: float = field(default=5.0, metadata=_meta(
        v.positive, "a probe's connect timeout in seconds (at most probe_timeout_s)"))
    slow_threshold_ms: float = field(default=2000.0, metadata=_meta(
        v.positive, "a successful probe slower than this many milliseconds is degraded (`slow`)"))
    probe_concurrency: int = field(default=50, metadata=_meta(
        v.at_least_one, "probes at once by default, and the size of the shared connection pool "
        "(check_many's `concurrency` is capped by it)"))
    probe_trust_env: bool = field(default=True, metadata=_meta(
        v.flag, "probes honour HTTP(S)_PROXY and NO_PROXY from the environment"))
    health_batch_window_s: float = field(default=0.25, metadata=_meta(
        v.positive, "how long check_many gathers results before one commit (bounded staleness, "
        "few file rewrites)"))
    health_log_retention: int = field(default=500, metadata=_meta(
        v.at_least_one, "health-log entries kept per integration (the oldest go first)"))
    usage_retention_days: int = field(default=7, metadata=_meta(
        v.at_least_one, "full days that raw usage events are kept after the day they were "
        "recorded: the call_id dedupe window"))
    usage_checkpoint_events: int = field(default=50_000, metadata=_meta(
        v.at_least_one, "fold the usage log into the rollup file after this many events"))
    usage_checkpoint_seconds: float = field(default=5.0, metadata=_meta(
        v.seconds, "... or after this many seconds, whichever comes first (0: at every commit)"))

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Options:
        """Options from keyword arguments, each checked; the ones not given keep their default."""
        declared = fields(cls)
        v.known(kwargs, {f.name for f in declared}, "options", "option")
        checked: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in declared:
            value = kwargs.get(f.name)
            if value is None and f.default is None:
                continue  # None is these options' default
            if f.name in kwargs:
                try:
                    checked[f.name] = f.metadata["check"](value, f.name)
                except ValidationError as exc:
                    errors.update(exc.errors)
        if errors:
            raise ValidationError(errors)
        return cls(**checked)

    @classmethod
    def docs(cls) -> dict[str, str]:
        """Each option's meaning and default, by name, in declaration order."""
        return {f.name: f"{f.metadata['doc']} (default {f.default!r})" for f in fields(cls)}


DEFAULTS = Options()
