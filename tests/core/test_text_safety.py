"""Text from outside (provider answers, old databases) is scrubbed of secrets and made safe for a
terminal: the functions of core.integrations.redaction, and the probe boundary that applies them
to every field of a result (issue 12, items 3 and 6)."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import text as checks
from support.facade import OpenFacade
from support.rawserver import Answer, RawServer
from support.text import unsafe

from core.integrations import redaction as r

SECRET = "sk-proj-Zt7qLmN4vXc9RbW2yK8uPdE5"
ATTACKS = (
    "\x1b]52;c;c2VjcmV0\x07",  # OSC 52: sets the clipboard
    "\x1b]0;owned\x07",  # the window title
    "\x1b[2J",  # clears the screen
    "\x9b31m",  # a C1 CSI
    "\x00\x08\x7f",
    "\u202eevil\u202c",  # bidi override
    "\u2066x\u2069",
    "a\u2028b",
)


# -- the functions ------------------------------------------------------------------------------


def test_format_characters_table_holds_every_cf_code_point() -> None:
    """The table is Unicode 15.1's; an older unicodedata has some of them unassigned."""
    every = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    assert every <= set(r.FORMAT_CHARS)
    assert {unicodedata.category(c) for c in set(r.FORMAT_CHARS) - every} <= {"Cn"}


@pytest.mark.parametrize("attack", ATTACKS)
def test_visible_leaves_nothing_a_terminal_acts_on(attack: str) -> None:
    out = r.visible(f"before {attack} after")
    assert unsafe(out) == [], repr(out)
    assert out.startswith("before ") and out.endswith(" after")


def test_visible_shows_controls_as_escapes_and_keeps_plain_text() -> None:
    assert r.visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert r.visible("a\x9bb\u2028c") == "a\\x9bb\\u2028c"
    assert r.visible("\u202eabc") == "abc"
    text = "Incorrect API key — café [bold]x[/] 日本"
    assert r.visible(text) == text


@pytest.mark.parametrize("attack", ATTACKS)
def test_redact_strips_control_and_format_characters(attack: str) -> None:
    assert unsafe(r.redact(f"401: {attack} done")) == []


@pytest.mark.parametrize(
    "echo",
    [
        " ".join(SECRET),
        "\u200b".join(SECRET),
        "\u2060".join(SECRET),
        "\ufeff".join(SECRET),
        "\u00ad".join(SECRET),
        "\x1b".join(SECRET),
        SECRET[:6] + "\u200b\u200b" + SECRET[6:],
        SECRET.replace("q", "q\u202e"),
    ],
)
def test_a_secret_with_separators_between_its_letters_is_caught(echo: str) -> None:
    for scrubbed in (r.redact(f"key {echo} refused", [SECRET]), r.scrub(f"id {echo}", [SECRET])):
        assert r.MASK in scrubbed
        squeezed = "".join(c for c in scrubbed if c.isalnum() or c == "-")
        assert SECRET not in squeezed and SECRET[8:] not in squeezed


@pytest.mark.parametrize(
    ("secret", "echo"),
    [
        ("hunter2 hunter2", "hunter2 hunter2"),
        ("hunter2 hunter2", "h u n t e r 2  h u n t e r 2"),
        ("hunter2\thunter2", "hunter2\thunter2"),
    ],
)
def test_a_secret_with_a_space_of_its_own_is_caught_however_it_is_echoed(
    secret: str, echo: str
) -> None:
    # the fast path looks for the secret in the text with the gaps taken out, where one that
    # holds a gap character is never found: such a secret is always searched for by pattern
    assert r.scrub(f"id {echo} end", [secret]) == f"id {r.MASK} end"


def test_each_of_many_secrets_is_caught_and_the_others_leave_the_text_alone() -> None:
    many = [f"sk-many-{i:04d}-Qw8eRt5yUi" for i in range(600)]  # more than re's pattern cache
    text = "ok gpt-4o " + " ".join(many[321]) + " and " + many[7]
    assert r.scrub(text, many) == f"ok gpt-4o {r.MASK} and {r.MASK}"
    assert r.scrub("ok gpt-4o", many) == "ok gpt-4o"


def test_scrub_keeps_identifiers_that_hold_no_secret() -> None:
    ids = ["mistralai/Mixtral-8x22B-Instruct-v0.1", "e5f3c1b0-1a2b-4c3d-9e8f-0123456789ab"]
    assert [r.scrub(i, [SECRET]) for i in ids] == ids
    assert r.scrub(SECRET, [SECRET]) == r.MASK
    assert r.scrub("x\x1by", ()) == "x\\x1by"


def test_scrub_value_reaches_every_string_of_a_structure() -> None:
    value = {"a": [SECRET, {"b": f"x {SECRET}"}], f"k{SECRET}": ("\x1b", 3, None, 1.5, True)}
    out = r.scrub_value(value, [SECRET])
    blob = json.dumps(out)
    assert SECRET not in blob and "\\u001b" not in blob
    assert out["a"][1]["b"] == f"x {r.MASK}"
    assert list(out.values())[1] == ["\\x1b", 3, None, 1.5, True]


# -- the probe boundary: every field of a result, every file ------------------------------------


@pytest.fixture
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def assert_files_clean(db: Path) -> None:
    checks.assert_files_clean(db.parent, SECRET)


def assert_clean(value: Any) -> None:
    checks.assert_clean(value, SECRET)


async def _integration(facade: Any, raw: RawServer, provider: str, **extra: Any) -> str:
    detail = await facade.create_integration(
        "t1", name=f"{provider}-x", provider_type=provider, credential=SECRET,
        config={"base_url": raw.url}, **extra,
    )  # fmt: skip
    return detail.id


async def test_a_key_listed_as_a_model_id_is_not_kept_shown_or_returned(
    open_facade: OpenFacade, raw: RawServer, db_path: Path
) -> None:
    ids = [SECRET, "gpt-ok", " ".join(SECRET), "\u200b".join(SECRET), f"x-{SECRET}", "m\x1b[2J"]
    raw.answer = Answer(body=json.dumps({"data": [{"id": i} for i in ids]}).encode())
    f = open_facade()
    iid = await _integration(f, raw, "custom")
    result = await f.test_credentials("t1", iid)
    assert result.health_state == "healthy"
    assert result.models == ["gpt-ok"]
    assert await f.get_models("t1", iid) == ["gpt-ok"]
    assert_clean(result.model_dump(mode="json"))
    assert_files_clean(db_path)


async def test_cohere_ids_and_deep_rate_limit_headers_reach_results_scrubbed(
    open_facade: OpenFacade, raw: RawServer, db_path: Path
) -> None:
    f = open_facade()
    body = {"valid": True, "organization_id": SECRET, "owner_id": "\u2060".join(SECRET)}
    raw.answer = Answer(body=json.dumps(body).encode())
    cohere = await _integration(f, raw, "cohere")
    result = await f.test_credentials("t1", cohere)
    assert result.health_state == "healthy" and set(result.provider_info) == set(body) - {"valid"}
    assert_clean(result.model_dump(mode="json"))

    headers = [
        (b"x-ratelimit-remaining-tokens", SECRET.encode()),
        (b"x-ratelimit-limit-" + SECRET.encode(), b"7"),
        (b"x-ratelimit-reset", "\x1b]52;c;eA==\x07 \u202e1s".encode()),
        (b"anthropic-ratelimit-requests-limit", b"50"),
    ]
    raw.answer = Answer(headers=headers, body=json.dumps({"data": [{"id": "gpt-ok"}]}).encode())
    deep = await _integration(f, raw, "custom", default_model="gpt-ok")
    result = await f.test_credentials("t1", deep, deep=True)
    assert result.rate_limits["anthropic-ratelimit-requests-limit"] == 50
    assert len(result.rate_limits) == 4
    assert_clean(result.model_dump(mode="json"))
    assert_files_clean(db_path)


@pytest.mark.parametrize("attack", ATTACKS)
async def test_escape_sequences_in_an_answer_reach_no_result_log_or_file(
    open_facade: OpenFacade, raw: RawServer, db_path: Path, attack: str
) -> None:
    f = open_facade()
    iid = await _integration(f, raw, "custom")
    for status, body in (
        (401, json.dumps({"error": {"message": f"bad key {attack} {SECRET}"}}).encode()),
        (401, f"plain {attack} page".encode()),
        (500, json.dumps({"detail": attack}).encode()),
        (200, f"not json {attack}".encode()),
    ):
        raw.answer = Answer(status, [(b"location", attack.encode())], body)
        result = await f.test_credentials("t1", iid)
        assert_clean(result.model_dump(mode="json"))
    assert_clean([e.model_dump(mode="json") for e in await f.get_health_log("t1", iid)])
    assert_clean((await f.get_integration("t1", iid)).model_dump(mode="json"))
    assert_files_clean(db_path)
