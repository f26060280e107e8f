"""The alert rules, and the channels file and its delivery through Apprise to real receivers."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.receivers import SmtpReceiver, WebhookReceiver

from core.enums import HealthState
from core.errors import ValidationError
from core.integrations.credentials import Vault
from core.watch.channels import Channel, DeliveryError, load_channels
from core.watch.rules import health_events, seen_key


@dataclass
class FakeRow:
    id: str
    name: str
    health_state: HealthState
    health_checked_at: datetime | None = datetime(2026, 12, 1, tzinfo=UTC)


def test_failing_and_recovery_are_events_degraded_and_unknown_are_not() -> None:
    seen: dict[str, dict[str, object]] = {}

    def look(state: HealthState, at: int = 1) -> list[str]:
        row = FakeRow("i1", "prod", state, datetime.fromtimestamp(at, UTC))
        events, updates = health_events("t1", [row], seen, 0)
        for key, value in updates.items():
            if value is None:
                seen.pop(key, None)
            else:
                seen[key] = value
        return [e.kind for e in events]

    assert look(HealthState.HEALTHY) == []  # first seen healthy: remembered only
    assert look(HealthState.DEGRADED) == []
    assert look(HealthState.HEALTHY) == []
    assert look(HealthState.FAILING, 2) == ["health_failing"]
    assert look(HealthState.FAILING, 3) == []  # still failing: said once
    assert look(HealthState.UNKNOWN) == []
    assert look(HealthState.HEALTHY, 4) == ["health_recovered"]
    # a deleted integration's memory goes
    _, updates = health_events("t1", [], seen, 0)
    assert updates == {seen_key("t1", "i1"): None}


def test_first_seen_failing_is_announced() -> None:
    events, _ = health_events("t1", [FakeRow("i9", "new", HealthState.FAILING)], {}, 0)
    assert [e.kind for e in events] == ["health_failing"] and "new" in events[0].title


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_channels_file(tmp_path: Path) -> None:
    assert load_channels(tmp_path / "missing.toml") == {}
    good = write(
        tmp_path / "c.toml",
        '[channels.ops]\nurl = "env:OPS_URL"\n[channels.mail]\nurl = "json://h/x"\n',
    )
    assert sorted(load_channels(good)) == ["mail", "ops"]
    cases = {
        "[channels.ops\n": "not valid TOML",
        "[other]\nx = 1\n": "expected only [channels.NAME]",
        '[channels."bad name"]\nurl = "json://h"\n': "a name is",
        "[channels.ops]\nurl = 3\n": "exactly one key",
        '[channels.ops]\nurl = "json://h"\nkinds = []\n': "exactly one key",
        '[channels.ops]\nurl = "json://h/\\u001b[2J"\n': "control characters",
    }
    for text, words in cases.items():
        bad = write(tmp_path / "bad.toml", text)
        with pytest.raises(ValidationError, match=re.escape(words)) as info:
            load_channels(bad)
        assert str(bad) in str(info.value)
    shared = write(tmp_path / "shared.toml", '[channels.ops]\nurl = "json://secret@h/x"\n', 0o644)
    with pytest.raises(ValidationError, match="chmod 600") as info:
        load_channels(shared)
    assert "secret" not in str(info.value)
    # references only: nothing secret in the file, any mode will do
    refs = write(tmp_path / "refs.toml", '[channels.ops]\nurl = "env:OPS_URL"\n', 0o644)
    assert list(load_channels(refs)) == ["ops"]


def send(channel: Channel, db_path: Path, env: dict[str, str] | None = None) -> None:
    channel.send(
        "byok: title", "the body", vault=Vault(), db_path=db_path, environ=env or dict(os.environ)
    )


def test_a_webhook_and_an_email_are_delivered(db_path: Path) -> None:
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    try:
        send(Channel("hook", "env:HOOK_URL"), db_path, {"HOOK_URL": hook.url("/alerts")})
        send(Channel("mail", smtp.url()), db_path)
        assert hook.received[0]["path"] == "/alerts"
        assert hook.messages()[0]["title"] == "byok: title"
        assert hook.messages()[0]["message"] == "the body"
        assert smtp.messages[0]["Subject"] == "byok: title"
        assert smtp.messages[0]["To"] == "oncall@example.com"
    finally:
        hook.stop()
        smtp.stop()


def test_a_refusal_names_the_channel_never_its_url(db_path: Path, tmp_path: Path) -> None:
    hook = WebhookReceiver()
    hook.failing = True
    token = "tok3nSECRETvalue"
    url = hook.url(f"/hook/{token}")
    try:
        with pytest.raises(DeliveryError) as info:
            send(Channel("ops", url), db_path)
        assert "ops" in str(info.value) and token not in str(info.value)
        assert token not in repr(Channel("ops", url))
    finally:
        hook.stop()
    with pytest.raises(DeliveryError, match="HOOK_URL is not set"):
        send(Channel("ops", "env:HOOK_URL"), db_path, {})
    with pytest.raises(DeliveryError, match="refused"):
        send(Channel("ops", "env:BYOK_MASTER_KEY"), db_path)
    with pytest.raises(DeliveryError, match="does not understand"):
        send(Channel("ops", "nonsense-url"), db_path)
