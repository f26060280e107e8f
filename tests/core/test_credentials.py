"""Credentials: sealed at rest, references resolved when used, masked hints, the master key."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from core import CredentialError, IntegrationsFacade
from core.integrations.credentials import Vault, mask

T = "acme"
SECRET = "sk-proj-SECRETSECRET-0123456789abcdefghijklmnopqrstuv"


def _all_files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


async def test_no_secret_on_disk(
    facade: IntegrationsFacade, isolated_env: Path, tmp_path: Path
) -> None:
    secrets = [
        SECRET,
        "sk-ant-api03-ANOTHERSECRETabcdefghijklmnop0123",
        "AIzaSyGEMINISECRET0123456789abcdef",
    ]
    a = await facade.create_integration(T, name="a", provider_type="openai", credential=secrets[0])
    b = await facade.create_integration(
        T, name="b", provider_type="anthropic", credential=secrets[1]
    )
    await facade.update_integration(T, a.id, credential=secrets[2], name="a2")
    await facade.update_integration(T, b.id, budget_limit_cents=10)
    await facade.delete_integration(T, b.id)
    files = _all_files(tmp_path, isolated_env)
    assert facade.db_path in files
    for path in files:
        data = path.read_bytes()
        for s in secrets:
            assert s.encode() not in data, f"{s[:6]}… found in {path}"
            assert base64.b64encode(s.encode()) not in data


async def test_no_secret_on_disk_with_key_file(
    db_path: Path, isolated_env: Path, monkeypatch
) -> None:
    monkeypatch.delenv("BYOK_MASTER_KEY")
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="a", provider_type="openai", credential=SECRET)
    key_file = isolated_env / "config" / "byok" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    for path in _all_files(db_path.parent, isolated_env):
        assert SECRET.encode() not in path.read_bytes()
    # a second facade (another process, later) reads the same key file and decrypts
    g = IntegrationsFacade(db_path)
    assert g.context.repo.secret(g.context.repo.get(T, d.id)) == SECRET


async def test_secret_round_trip_and_hint(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(
        T, name="a", provider_type="openai", credential=f"  {SECRET}\n"
    )
    assert d.credential_hint == "sk-…stuv"
    repo = facade.context.repo
    assert repo.secret(repo.get(T, d.id)) == SECRET


def test_mask_never_reveals_short_secrets() -> None:
    assert mask("sk-abcdefghijklmnopqrstu") == "sk-…rstu"
    assert mask("abcdefghijklmn") == "…klmn"
    assert mask("short-key") == "…"
    for s in ("sk-abcdefghijklmnopqrstu", "abcdefghijklmn", "short-key"):
        shown = mask(s).replace("…", "")
        assert len(shown) <= 7 and len(shown) <= len(s) // 2


async def test_wrong_master_key(db_path: Path, monkeypatch) -> None:
    f = IntegrationsFacade(db_path)
    d = await f.create_integration(T, name="a", provider_type="openai", credential=SECRET)
    monkeypatch.setenv("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    g = IntegrationsFacade(db_path)
    # metadata still works
    assert (await g.list_integrations(T)).total == 1
    detail = await g.get_integration(T, d.id)
    assert detail is not None and detail.credential_hint == "sk-…stuv"
    with pytest.raises(CredentialError) as e:
        g.context.repo.secret(g.context.repo.get(T, d.id))
    assert "master key" in str(e.value) and SECRET not in str(e.value)


@pytest.mark.parametrize("bad", ["not-base64!!", base64.b64encode(b"short").decode()])
def test_malformed_master_key(bad: str, tmp_path: Path) -> None:
    v = Vault(key_path=tmp_path / "k", environ={"BYOK_MASTER_KEY": bad})
    with pytest.raises(CredentialError) as e:
        v.seal("secret-value", "t", "i")
    assert "BYOK_MASTER_KEY" in str(e.value)


def test_missing_key_file_when_decrypting(tmp_path: Path) -> None:
    sealer = Vault(key_path=tmp_path / "k1", environ={})
    sealed = sealer.seal("the-secret", "t", "i")
    reader = Vault(key_path=tmp_path / "absent", environ={})
    with pytest.raises(CredentialError) as e:
        reader.open(sealed, "t", "i")
    assert "no master key" in str(e.value)
    assert not (tmp_path / "absent").exists()  # decrypting never invents a key


def test_tampered_ciphertext(tmp_path: Path) -> None:
    v = Vault(key_path=tmp_path / "k", environ={})
    sealed = v.seal("the-secret", "t", "i")
    ct = bytearray(base64.b64decode(sealed["ct"]))
    ct[0] ^= 1
    with pytest.raises(CredentialError):
        v.open({**sealed, "ct": base64.b64encode(bytes(ct)).decode()}, "t", "i")
    with pytest.raises(CredentialError):
        v.open(sealed, "t", "other-integration")
    with pytest.raises(CredentialError):
        v.open({**sealed, "v": 99}, "t", "i")
    assert v.open(sealed, "t", "i") == "the-secret"


async def test_env_reference_resolved_when_used(facade: IntegrationsFacade, monkeypatch) -> None:
    d = await facade.create_integration(
        T, name="e", provider_type="openai", credential="env:MY_TEST_KEY"
    )
    repo = facade.context.repo
    monkeypatch.delenv("MY_TEST_KEY", raising=False)
    with pytest.raises(CredentialError) as e:
        repo.secret(repo.get(T, d.id))
    assert "MY_TEST_KEY" in str(e.value)
    monkeypatch.setenv("MY_TEST_KEY", "sk-from-env-value-000000000000")
    assert repo.secret(repo.get(T, d.id)) == "sk-from-env-value-000000000000"
    monkeypatch.setenv("MY_TEST_KEY", "sk-rotated-value-111111111111")
    assert repo.secret(repo.get(T, d.id)) == "sk-rotated-value-111111111111"


async def test_file_reference_resolved_when_used(
    facade: IntegrationsFacade, tmp_path: Path
) -> None:
    key_file = tmp_path / "mounted" / "key"
    d = await facade.create_integration(
        T, name="f", provider_type="openai", credential=f"file:{key_file}"
    )
    repo = facade.context.repo
    with pytest.raises(CredentialError) as e:
        repo.secret(repo.get(T, d.id))
    assert str(key_file) in str(e.value)
    key_file.parent.mkdir()
    key_file.write_text("sk-mounted-secret-2222222222\n")
    assert repo.secret(repo.get(T, d.id)) == "sk-mounted-secret-2222222222"
    key_file.write_text("   \n")
    with pytest.raises(CredentialError, match="empty"):
        repo.secret(repo.get(T, d.id))


async def test_keyless_resolves_to_none(facade: IntegrationsFacade) -> None:
    d = await facade.create_integration(T, name="o", provider_type="ollama")
    assert facade.context.repo.secret(facade.context.repo.get(T, d.id)) is None


async def test_secret_not_in_validation_messages(facade: IntegrationsFacade) -> None:
    from core import ValidationError

    bad = "sk-has a space-SECRETSECRETSECRET"
    with pytest.raises(ValidationError) as e:
        await facade.create_integration(T, name="a", provider_type="openai", credential=bad)
    assert "SECRETSECRET" not in str(e.value) and "SECRETSECRET" not in repr(e.value.errors)
