"""Hypothesis on text from outside (issue 12): names, provider answers from a real server on
127.0.0.1 (fuzzed status, headers and bodies) and JSON Lines usage. Whatever comes in: no crash
(only the documented errors, never exit 70), no control character in any output (CLI stdout and
stderr, results, console text, files) and no secret in any file under the database directory."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.rawserver import Answer, RawServer
from support.text import NO_SECRET, assert_clean, assert_files_clean, unsafe

from core import DuplicateNameError, IntegrationsFacade, ValidationError
from tui import format as console_fmt
from tui.cli.main import main as byok_main

SECRET = "sk-fuzz-Q8wE3rT6yU1iO4pA7sD0"
PROVIDERS = ("openai", "anthropic", "google", "cohere", "together", "openrouter", "bedrock",
             "ollama", "custom", "groq")  # fmt: skip
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEQ = itertools.count()

# Characters that attack terminals or hide a key, and markup that would act in the console.
NASTY = st.sampled_from(
    ["\x1b", "\x1b]52;c;eA==\x07", "\x1b[2J", "\x07", "\x00", "\x9b", "\x85", "\u202e", "\u2066",
     "\u200b", "\u2060", "\ufeff", "\u2028", "\ud800", "[/]", "[/x]", "[@click=app.quit]",
     "[link=https://x.example]", "\n", "\t", " "]
)  # fmt: skip
SPREAD = st.sampled_from(["", " ", "\u200b", "\u2060", "\ufeff", "\x1b", "\u00ad"]).map(
    lambda sep: sep.join(SECRET)
)
piece = st.one_of(st.text(max_size=12), NASTY, SPREAD, st.just(SECRET), st.just(SECRET[-10:]))
nasty_text = st.lists(piece, max_size=6).map("".join)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str, secret: str = SECRET) -> int:
    code = byok_main(list(argv))
    out, err = capsys.readouterr()
    assert code != 70 and "internal error" not in err, err
    assert unsafe(out, keep="\n") == [] and unsafe(err, keep="\n") == [], (out, err)
    assert secret not in out + err
    return code


# -- names --------------------------------------------------------------------------------------


@FUZZ
@given(name=nasty_text)
def test_any_name_is_refused_or_shown_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    db = tmp_path / "names" / "byok.json"

    async def create() -> tuple[str, str] | None:
        f = IntegrationsFacade(db, durable=False)
        try:
            made = await f.create_integration("default", name=name, provider_type="ollama")
            return made.id, made.name
        except (ValidationError, DuplicateNameError):
            return None
        finally:
            await f.aclose()

    created = asyncio.run(create())
    if created is None:
        return
    iid, stored = created  # the name as stored: trimmed (a line end around it is not kept)
    for args in (("show", iid), ("show", iid, "--json"), ("list",), ("rm", iid, "--yes")):
        # a name is no secret, whatever it looks like
        assert run_cli(capsys, "--db", str(db), *args, secret=NO_SECRET) == 0
    shown = console_fmt.safe(f"Delete {stored}?")
    assert stored in shown.plain and unsafe(shown.plain) == []


# -- provider answers ---------------------------------------------------------------------------

json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), nasty_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)
    ),
    max_leaves=12,
)
shaped_body = st.one_of(
    st.builds(lambda ids: {"data": [{"id": i} for i in ids]}, st.lists(nasty_text, max_size=4)),
    st.builds(lambda ids: {"models": [{"name": i} for i in ids]}, st.lists(nasty_text, max_size=4)),
    st.builds(lambda i: {"modelSummaries": [{"modelId": i}]}, nasty_text),
    st.builds(lambda m: {"error": {"message": m, "type": "x"}}, nasty_text),
    st.builds(lambda a, b: {"valid": True, "organization_id": a, "owner_id": b},
              nasty_text, nasty_text),
    st.builds(lambda label: {"data": {"label": label, "limit_remaining": 1}}, nasty_text),
    st.builds(lambda detail: {"detail": detail, "Message": detail}, nasty_text),
    json_value,
)
body_bytes = st.one_of(
    shaped_body.map(lambda b: json.dumps(b).encode("utf-8", "surrogatepass")),
    nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)
header_value = st.one_of(
    nasty_text.map(lambda t: t.replace("\r", "").replace("\n", "").encode("utf-8", "replace")),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)
header_name = st.sampled_from([b"x-ratelimit-remaining-tokens", b"x-ratelimit-reset",
                               b"anthropic-ratelimit-requests-limit", b"retry-after",
                               b"location", b"x-amzn-errortype", b"x-other"])  # fmt: skip
answers = st.builds(
    Answer,
    status=st.sampled_from([200, 200, 200, 301, 400, 401, 403, 404, 429, 498, 500, 529]),
    headers=st.lists(st.tuples(header_name, header_value), max_size=4),
    body=body_bytes,
)


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


@FUZZ
@given(answer=answers, provider=st.sampled_from(PROVIDERS), deep=st.booleans())
def test_any_provider_answer_reaches_results_cli_and_files_clean(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    raw: RawServer,
    answer: Answer,
    provider: str,
    deep: bool,
) -> None:
    db = tmp_path / "probes" / "byok.json"
    raw.answer = answer

    async def probe() -> tuple[str, Any, Any, list[str]]:
        f = IntegrationsFacade(db, durable=False, probe_timeout_s=5)
        try:
            made = await f.create_integration(
                "default", name=f"{provider}-{next(SEQ)}", provider_type=provider,
                credential=SECRET, default_model="m1", config={"base_url": raw.url},
            )  # fmt: skip
            result = await f.test_credentials("default", made.id, deep=deep)
            log = await f.get_health_log("default", made.id)
            return made.id, result, log, await f.get_models("default", made.id)
        finally:
            await f.aclose()

    iid, result, log, models = asyncio.run(probe())
    assert_clean(result.model_dump(mode="json"), SECRET)
    assert_clean([e.model_dump(mode="json") for e in log], SECRET)
    assert_clean(models, SECRET)
    run_cli(capsys, "--db", str(db), "test", iid, "--json")
    for args in (("show", iid), ("log",), ("list",)):
        run_cli(capsys, "--db", str(db), *args)
    assert_files_clean(db.parent, SECRET)


# -- JSON Lines usage ---------------------------------------------------------------------------

timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "1e400", "nan"]),
    st.integers(), st.floats(), nasty_text,
)  # fmt: skip
counts = st.one_of(st.integers(min_value=-5, max_value=10**16), st.floats(), nasty_text, st.none())
usage_line = st.fixed_dictionaries(
    {"integration": st.one_of(st.just("u"), nasty_text),
     "model": st.one_of(st.just("gpt-4o"), nasty_text),
     "usage": st.one_of(st.fixed_dictionaries({"prompt_tokens": counts,
                                               "completion_tokens": counts}), json_value)},
    optional={"timestamp": timestamps, "call_id": nasty_text, "cost_cents": counts},
).map(lambda d: json.dumps(d).encode("utf-8", "surrogatepass"))  # fmt: skip
lines = st.lists(st.one_of(usage_line, st.binary(max_size=60)), min_size=1, max_size=8)


@FUZZ
@given(batch=lines)
def test_any_usage_line_is_imported_or_one_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], batch: list[bytes]
) -> None:
    db = tmp_path / "usage" / "byok.json"
    source = tmp_path / "usage.jsonl"
    source.write_bytes(b"\n".join(b.replace(b"\n", b" ") for b in batch) + b"\n")

    async def run() -> Any:
        f = IntegrationsFacade(db, durable=False)
        try:
            if await f.resolve_integration("default", "u") is None:
                await f.create_integration("default", name="u", provider_type="ollama")
            return await f.import_usage_jsonl("default", io.BytesIO(source.read_bytes()))
        finally:
            await f.aclose()

    report = asyncio.run(run())
    assert report.imported + report.duplicates + report.error_count <= report.lines
    # usage text is data, not a credential: only control characters are looked for
    assert_clean(report.model_dump(mode="json"), secret=NO_SECRET)
    cli = ("--db", str(db), "usage", "import", str(source))
    assert run_cli(capsys, *cli, secret=NO_SECRET) in (0, 65)
    run_cli(capsys, "--db", str(db), "limits", secret=NO_SECRET)
    assert_files_clean(db.parent, secret=NO_SECRET)
