"""The facade's options (core/options.py): one declaration each, every value checked once and
before any file is created, a bad value named, an unknown name refused, every option documented."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import Clock

from core import CredentialError, IntegrationsFacade, ValidationError
from core.options import DEFAULTS, Options
from core.readside import Dashboard

NAMES = [f.name for f in dataclasses.fields(Options)]

# Out of range or of the wrong type, for every option (a new option must add its own here).
BAD: dict[str, list[object]] = {
    "clock": [5, "now"],
    "environ": [["BYOK_DB"], "BYOK_DB=x"],
    "durable": [1, "yes", None],
    "create": [0, "no", None],
    "master_key": [b"too short", "x" * 32, bytearray(32), b"k" * 33],
    "probe_timeout_s": [0, -1, True, "10", math.nan, math.inf, None],
    "probe_connect_timeout_s": [0, -0.5, "5", math.nan],
    "slow_threshold_ms": [0, -2000, False, math.inf],
    "probe_concurrency": [0, -1, 1.5, 4.0, True, "50", None],
    "probe_trust_env": [0, "false", None],
    "health_batch_window_s": [0, -0.25, "0.25"],
    "health_log_retention": [0, -1, 2.0, True],
    "usage_retention_days": [0, -1, 1.5, True, "7"],
    "usage_checkpoint_events": [0, 10.0, "1000"],
    "usage_checkpoint_seconds": [-1, math.nan, math.inf, "5", True, None],
}


def test_every_option_has_bad_values_here() -> None:
    assert sorted(BAD) == sorted(NAMES)


@pytest.mark.parametrize(
    ("option", "bad"), [(name, value) for name, values in BAD.items() for value in values]
)
def test_a_bad_value_is_refused_naming_its_option_before_any_file_exists(
    option: str, bad: object, db_path: Path
) -> None:
    with pytest.raises(ValidationError) as err:
        IntegrationsFacade(db_path, **{option: bad})
    assert list(err.value.errors) == [option]
    assert not db_path.parent.exists()  # checked before the database (or its folder) is made


DASHBOARDS_OWN = ("clock", "environ", "durable", "create")


@pytest.mark.parametrize("option", [n for n in NAMES if n not in DASHBOARDS_OWN])
def test_from_dashboard_checks_the_same_options(option: str, db_path: Path) -> None:
    dash = Dashboard(db_path)
    with pytest.raises(ValidationError) as err:
        IntegrationsFacade.from_dashboard(dash, **{option: BAD[option][0]})
    assert list(err.value.errors) == [option]
    dash.close()


def test_every_bad_option_is_named_at_once(db_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        IntegrationsFacade(db_path, probe_timeout_s=0, usage_retention_days=0, durable="no")
    assert set(err.value.errors) == {"probe_timeout_s", "usage_retention_days", "durable"}


def test_an_unknown_option_is_refused(db_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        IntegrationsFacade(db_path, probe_timeout=5)  # a typo of probe_timeout_s
    assert list(err.value.errors) == ["options"]
    assert "probe_timeout" in str(err.value) and "probe_timeout_s" in str(err.value)
    dash = Dashboard(db_path)
    with pytest.raises(ValidationError):
        IntegrationsFacade.from_dashboard(dash, key_path="/tmp/k")  # no longer an option
    dash.close()


def test_the_dashboards_own_options_stay_a_type_error(db_path: Path) -> None:
    dash = Dashboard(db_path)
    for name in (*DASHBOARDS_OWN, "db_path"):
        with pytest.raises(TypeError, match=name):
            IntegrationsFacade.from_dashboard(dash, **{name: None})
    dash.close()


def test_every_option_is_documented_with_its_default() -> None:
    docs = Options.docs()
    assert list(docs) == NAMES
    for name, text in docs.items():
        assert len(text) > 30, name
        assert text.endswith(f"(default {getattr(DEFAULTS, name)!r})"), name


def test_the_defaults_are_the_documented_ones() -> None:
    assert Options.from_kwargs() == DEFAULTS
    assert (DEFAULTS.probe_timeout_s, DEFAULTS.probe_connect_timeout_s) == (10.0, 5.0)
    assert (DEFAULTS.slow_threshold_ms, DEFAULTS.probe_concurrency) == (2000.0, 50)
    assert (DEFAULTS.health_log_retention, DEFAULTS.usage_retention_days) == (500, 7)
    assert DEFAULTS.durable and DEFAULTS.create and DEFAULTS.probe_trust_env
    assert DEFAULTS.clock is DEFAULTS.environ is DEFAULTS.master_key is None


async def test_good_values_reach_the_services_typed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2026, 3, 1, tzinfo=UTC))
    f = IntegrationsFacade(
        db_path,
        clock=clock,
        environ={},
        durable=False,
        master_key=b"k" * 32,
        probe_timeout_s=3,
        probe_concurrency=7,
        usage_checkpoint_seconds=0,
        health_log_retention=2,
        usage_retention_days=3,
    )
    opts = f.context.options
    assert opts.probe_timeout_s == 3.0 and isinstance(opts.probe_timeout_s, float)
    assert (opts.probe_concurrency, opts.usage_checkpoint_seconds) == (7, 0.0)
    assert f.context.clock is clock and f.context.store.durable is False
    assert f._health.log.retention == 2 and f._usage.store.retention_days == 3
    d = await f.create_integration("t", name="x", provider_type="openai", credential="env:KEY")
    assert d.created_at == clock.now  # the clock option is the facade's time
    # environ={} is an empty environment, not "use os.environ"
    monkeypatch.setenv("KEY", "sk-from-the-process")
    with pytest.raises(CredentialError, match="KEY"):
        f.context.repo.secret(f.context.repo.get("t", d.id))
    await f.aclose()


def test_none_means_the_default_for_the_optional_ones(db_path: Path) -> None:
    opts = Options.from_kwargs(clock=None, environ=None, master_key=None)
    assert opts == DEFAULTS
