"""One REF resolver for the CLI and the usage import: an id, a name (case-insensitive, spaces
ignored) or a unique start of an id (6+ hex digits); another tenant's integration is not found."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator

import pytest

from core import IntegrationsFacade, ValidationError

T = "acme"


@pytest.fixture
def ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids the next creates get: the first two share their first 8 hex digits."""
    planned = ["abcdef01" + "0" * 24, "abcdef01" + "1" * 24, "12345678" + "2" * 24, "9" * 32]
    queue = [uuid.UUID(hex=h) for h in planned]
    monkeypatch.setattr(uuid, "uuid4", lambda: queue.pop(0))
    yield planned


@pytest.fixture
async def three(facade: IntegrationsFacade, ids: list[str]) -> list[str]:
    for name in ("Prod OpenAI", "staging", "local"):
        await facade.create_integration(T, name=name, provider_type="ollama")
    return ids[:3]


async def test_by_id_name_and_unique_prefix(facade: IntegrationsFacade, three: list[str]) -> None:
    a, b, c = three
    assert (await facade.resolve_integration(T, a)).id == a  # type: ignore[union-attr]
    assert (await facade.resolve_integration(T, "  prod openai ")).id == a  # type: ignore[union-attr]
    assert (await facade.resolve_integration(T, "STAGING")).id == b  # type: ignore[union-attr]
    assert (await facade.resolve_integration(T, "123456")).id == c  # type: ignore[union-attr]
    assert (await facade.resolve_integration(T, "ABCDEF011")).id == b  # type: ignore[union-attr]
    detail = await facade.resolve_integration(T, "abcdef010")
    assert detail is not None and detail.name == "Prod OpenAI" and detail.tenant_id == T


async def test_nothing_matches(facade: IntegrationsFacade, three: list[str]) -> None:
    for ref in ("nope", "", "   ", "12345", "1234567z", "fedcba98", "x" * 500):
        assert await facade.resolve_integration(T, ref) is None, ref


async def test_a_start_of_several_ids_is_ambiguous(
    facade: IntegrationsFacade, three: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        await facade.resolve_integration(T, "abcdef")
    assert caught.value.errors == {"ref": "'abcdef' is the start of several ids: give more of it"}


async def test_a_name_wins_over_an_id_prefix(facade: IntegrationsFacade, three: list[str]) -> None:
    named = await facade.create_integration(T, name="abcdef", provider_type="ollama")
    assert (await facade.resolve_integration(T, "abcdef")).id == named.id  # type: ignore[union-attr]


async def test_another_tenants_integration_is_not_found(
    facade: IntegrationsFacade, three: list[str]
) -> None:
    a = three[0]
    for ref in (a, "Prod OpenAI", "123456"):
        assert await facade.resolve_integration("other", ref) is None
    with pytest.raises(ValidationError) as caught:
        await facade.resolve_integration("bad tenant!", a)
    assert "tenant_id" in caught.value.errors


async def test_the_usage_import_uses_the_same_resolver(
    facade: IntegrationsFacade, three: list[str]
) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2}
    lines = [
        {"integration": "123456", "model": "m", "usage": usage},
        {"integration": "STAGING", "model": "m", "usage": usage},
        {"integration": "abcdef", "model": "m", "usage": usage},
        {"integration": "abcdef", "model": "m", "usage": usage},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    report = await facade.import_usage_jsonl(T, io.StringIO(text))
    assert report.imported == 2
    assert [(e.line, e.message) for e in report.errors] == [
        (n, "integration: 'abcdef' is the start of several ids: give more of it") for n in (3, 4)
    ]
