"""Matching a provider's redacted key against byok's hint: one-to-one or nothing."""

from __future__ import annotations

import pytest

from core.spend.links import auto_links, matches


@pytest.mark.parametrize(
    ("redacted", "hint", "expected"),
    [
        ("sk-abc...wxyz", "sk-…wxyz", True),  # OpenAI redacted_value vs mask()
        ("sk-ant-api03-R2D...igAA", "sk-…igAA", True),  # Anthropic partial_key_hint
        ("sk-proj-****wxyz", "…wxyz", True),  # a 12-19 character key: tail only
        ("sk-abc...wxyz", "sk-…wxy0", False),
        ("pk-abc...wxyz", "sk-…wxyz", False),  # another prefix
        ("sk-abc...wxyz", "…", False),  # a short key's hint shows nothing to match
        ("sk-abc...wxyz", "env:OPENAI_API_KEY", False),
        ("sk-abcwxyz", "sk-…wxyz", False),  # not a redacted form
        ("sk-abc...xyz", "sk-…wxyz", False),  # too little shown
    ],
)
def test_matches(redacted: str, hint: str, expected: bool) -> None:
    assert matches(redacted, hint) is expected


def test_only_one_to_one_matches_link() -> None:
    keys = [("k1", "sk-a...1111"), ("k2", "sk-b...2222"), ("k3", "sk-c...2222")]
    hints = {"i1": "sk-…1111", "i2": "sk-…2222", "i3": "sk-…3333", "i4": "sk-…1111"}
    linked, ambiguous, unmatched = auto_links(hints, keys)
    assert linked == {}
    assert ambiguous == [
        {"integration_id": "i1", "key_ids": ["k1"], "shared_with": ["i4"]},
        {"integration_id": "i2", "key_ids": ["k2", "k3"], "shared_with": []},
        {"integration_id": "i4", "key_ids": ["k1"], "shared_with": ["i1"]},
    ]
    assert unmatched == ["i3"]
    linked, _, _ = auto_links({"i1": "sk-…1111", "i3": "sk-…3333"}, keys)
    assert linked == {"i1": "k1"}
