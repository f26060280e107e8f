"""Every option of the facade, in one typed place.

`IntegrationsFacade(db_path, **options)` and `IntegrationsFacade.from_dashboard(dash, **options)`
take these as keyword arguments. `Options.from_kwargs` checks each given value once: a bad value
is a ValidationError naming the option, an unknown name one naming `options`. The services then
read typed attributes (`ctx.options.probe_timeout_s`).

One declaration per option: its name, its type (which carries its check from core.validation),
its default and, below it, its docstring (`Options.docs()` reads them, as help texts want).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, get_type_hints

from core import validation as v
from core.errors import ValidationError
from core.timeutil import Clock

# The kinds of option: a type and the check that a given value must pass.
ClockOption = Annotated[Clock | None, v.clock]
EnvironOption = Annotated[Mapping[str, str] | None, v.environ]
KeyOption = Annotated[bytes | None, v.master_key]
Flag = Annotated[bool, v.flag]
Positive = Annotated[float, v.positive]
AtLeastOne = Annotated[int, v.at_least_one]
Seconds = Annotated[float, v.seconds]

Check = Callable[[object, str], Any]


@dataclass(frozen=True)
class Options:
    """The facade's options with their defaults; build one with `from_kwargs`."""

    clock: ClockOption = None
    """A callable returning an aware datetime: the time of every record and probe (tests pin it;
    None: the system clock)."""

    environ: EnvironOption = None
    """Where `env:` credentials, $BYOK_MASTER_KEY, $BYOK_KEY_FILE and $BYOK_DB are read (None:
    os.environ)."""

    durable: Flag = True
    """fsync every commit and its directory (off only for throwaway databases)."""

    create: Flag = True
    """Create the database when it is missing (False: a missing one is a StoreError and nothing is
    created; the CLI's commands other than `add`)."""

    master_key: KeyOption = None
    """32 bytes that seal the stored secrets (None: $BYOK_MASTER_KEY, else the key file)."""

    probe_timeout_s: Positive = 10.0
    """A probe's overall deadline in seconds (asyncio.timeout, not only httpx's per-phase
    timeouts)."""

    probe_connect_timeout_s: Positive = 5.0
    """A probe's connect timeout in seconds (at most probe_timeout_s)."""

    slow_threshold_ms: Positive = 2000.0
    """A successful probe slower than this many milliseconds is degraded (reason `slow`)."""

    probe_concurrency: AtLeastOne = 50
    """Probes at once by default, and the size of the shared connection pool (a larger
    check_many `concurrency` gets a pool of its own, that wide)."""

    probe_trust_env: Flag = True
    """Probes honour HTTP(S)_PROXY and NO_PROXY from the environment."""

    health_batch_window_s: Positive = 0.25
    """How long check_many gathers results before one commit: bounded staleness, few rewrites."""

    health_log_retention: AtLeastOne = 500
    """Health-log entries kept per integration (the oldest go first)."""

    usage_retention_days: AtLeastOne = 7
    """Full days that raw usage events are kept after the day they were recorded: the window in
    which a repeated call_id is a duplicate."""

    usage_checkpoint_events: AtLeastOne = 50_000
    """Fold the usage log into the rollup file after this many events..."""

    usage_checkpoint_seconds: Seconds = 5.0
    """... or after this many seconds, whichever comes first (0: at every commit)."""

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Options:
        """Options from keyword arguments, each checked; those not given keep their default."""
        checks = _checks()
        v.known(kwargs, checks.keys(), "options", "option")
        checked: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, value in kwargs.items():
            if value is None and DEFAULTS_BY_NAME[name] is None:
                continue  # None is these options' default
            try:
                checked[name] = checks[name](value, name)
            except ValidationError as exc:
                errors.update(exc.errors)
        if errors:
            raise ValidationError(errors)
        return cls(**checked)

    @classmethod
    def docs(cls) -> dict[str, str]:
        """Each option's docstring and default, by name, in declaration order."""
        import ast
        import inspect
        import itertools
        import textwrap

        (tree,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
        assert isinstance(tree, ast.ClassDef)
        out: dict[str, str] = {}
        for stmt, after in itertools.pairwise(tree.body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                name = stmt.target.id
                text = " ".join(after.value.value.split())
                out[name] = f"{text} (default {DEFAULTS_BY_NAME[name]!r})"
        return out


_CHECKS: dict[str, Check] = {}


def _checks() -> dict[str, Check]:
    """Each option's check, read once from its type."""
    if not _CHECKS:
        hints = get_type_hints(Options, include_extras=True)
        _CHECKS.update({f.name: hints[f.name].__metadata__[0] for f in fields(Options)})
    return _CHECKS


DEFAULTS = Options()
DEFAULTS_BY_NAME: dict[str, Any] = {f.name: f.default for f in fields(Options)}
