"""`byok` list/show/add/edit/rm/enable/disable through the real entry point, in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clirun import assert_usage_error, byok, copy_db, fingerprint
from support.env import isolated

from core import IntegrationDetailResult, IntegrationsFacade, IntegrationSummaryResult

SECRET = "sk-proj-Zt7qLmN4vXc9RbW2yK8uPdE5"
SUBCOMMANDS = [
    "list", "show", "add", "edit", "rm", "enable", "disable", "test", "log", "limits",
    "usage", "usage record", "usage import", "check", "alerts", "demo", "serve",
]  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two integrations, added once for the module through the CLI; each test gets a copy."""
    with isolated(tmp_path_factory.mktemp("home")):
        path = tmp_path_factory.mktemp("template") / "data" / "byok.json"
        assert byok("add", "prod-openai", "--provider", "openai", "--credential-stdin",
                    "--model", "gpt-4o-mini", db=path, input=SECRET + "\n").code == 0  # fmt: skip
        assert byok("add", "Local Llama", "--provider", "ollama", "--base-url",
                    "http://127.0.0.1:11434", db=path).code == 0  # fmt: skip
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return copy_db(template, tmp_path / "data" / "byok.json")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    run = byok(*command.split(), "--help")
    assert run.code == 0, run.err
    assert f"byok {command}" in run.out.replace("\n", " ")
    assert "--db" in run.out  # the global options are accepted after the subcommand too


def test_version_and_top_level_help() -> None:
    run = byok("--version")
    assert run.code == 0 and run.out.startswith("byok ")
    run = byok("--help")
    assert run.code == 0
    for command in SUBCOMMANDS:
        assert command.split()[0] in run.out


def test_list_json_shape_and_filters(db: Path) -> None:
    run = byok("list", "--json", db=db)
    assert run.code == 0, run.err
    data = run.json
    assert set(data) == {"items", "total"} and data["total"] == 2
    items = [IntegrationSummaryResult.model_validate(item) for item in data["items"]]
    assert [i.name for i in items] == ["Local Llama", "prod-openai"]  # newest first
    assert byok("list", "--json", "--provider", "ollama", db=db).json["total"] == 1
    assert byok("list", "--json", "--search", "GPT-4O", db=db).json["items"][0]["name"] == (
        "prod-openai"
    )
    assert byok("list", "--json", "--status", "enabled", db=db).json == {"items": [], "total": 0}


def test_list_table_fits_80_columns_without_colour(db: Path) -> None:
    long = "a-very-long-integration-name-" * 4
    assert byok("add", long, "--provider", "custom", "--base-url", "http://127.0.0.1:9/v1",
                db=db).code == 0  # fmt: skip
    run = byok("list", db=db)
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].split() == ["NAME", "PROVIDER", "STATUS", "HEALTH", "MODEL", "ID"]
    assert all(len(line) <= 80 for line in lines), lines
    assert "\x1b[" not in run.out  # not a terminal: no colour codes
    assert any("prod-openai" in line and "gpt-4o-mini" in line for line in lines)
    short_id = next(line for line in lines if "prod-openai" in line).split()[-1].rstrip("…")
    assert len(short_id) >= 6  # a shortened id is still a usable REF (a unique prefix)
    assert byok("show", short_id, "--json", db=db).json["name"] == "prod-openai"


def test_show_by_id_and_by_name_case_insensitive(db: Path) -> None:
    listed = byok("list", "--json", db=db).json["items"]
    iid = next(i["id"] for i in listed if i["name"] == "prod-openai")
    by_id = byok("show", iid, "--json", db=db)
    by_name = byok("show", "  PROD-OpenAI ", "--json", db=db)
    assert by_id.code == by_name.code == 0
    assert by_id.json == by_name.json
    detail = IntegrationDetailResult.model_validate(by_id.json)
    assert detail.credential_source.value == "encrypted"
    assert detail.credential_hint == "sk-…PdE5"
    human = byok("show", "prod-openai", db=db)
    assert human.code == 0 and iid in human.out and SECRET not in human.out


def test_show_unknown_ref_is_a_usage_error(db: Path) -> None:
    assert_usage_error(byok("show", "nope", db=db), "no integration 'nope'")


def test_add_with_stdin_key_never_stores_or_prints_it(db: Path) -> None:
    for path in db.parent.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert path.stat().st_mode & 0o077 == 0, path
    assert (db.parent.stat().st_mode & 0o777) == 0o700


def test_add_json_and_env_reference(db: Path) -> None:
    run = byok("add", "gem", "--provider", "google", "--credential", "env:GEMINI_API_KEY",
               "--budget-cents", "500", "--token-limit", "1000", "--rpm", "3", "--json",
               db=db)  # fmt: skip
    assert run.code == 0, run.err
    detail = IntegrationDetailResult.model_validate(run.json)
    assert (detail.credential_source.value, detail.credential_hint) == ("env", "env:GEMINI_API_KEY")
    assert (detail.budget_limit_cents, detail.token_limit_month, detail.rate_limit_rpm) == (
        500, 1000, 3,
    )  # fmt: skip


def test_raw_key_on_the_command_line_is_refused_and_not_echoed(db: Path) -> None:
    before = fingerprint(db)
    run = byok("add", "leak", "--provider", "openai", "--credential", SECRET, db=db)
    assert_usage_error(run, "env:NAME", "shell history")
    assert SECRET not in run.err and SECRET not in run.out
    assert fingerprint(db) == before
    run = byok("edit", "prod-openai", "--credential", SECRET, db=db)
    assert_usage_error(run, "--credential-stdin")
    assert SECRET not in run.err + run.out
    assert fingerprint(db) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["add", "x", "--provider", "openai"], "needs a key"),  # no tty to prompt on
        (["add", "x", "--provider", "nosuch"], "invalid choice"),
        (["add", "x"], "--provider"),
        (["add", "x", "--provider", "ollama", "--budget-cents", "-5"], "0 or more"),
        (["add", "x", "--provider", "ollama", "--rpm", "lots"], "not a whole number"),
        (["add", "PROD-OPENAI", "--provider", "ollama"], "already exists"),
        (["add", "   ", "--provider", "ollama"], "name"),
        (["add", "x", "--provider", "custom"], "base_url"),
        (["add", "x", "--provider", "ollama", "--base-url", "ftp://h"], "base_url"),
        (["add", "x", "--provider", "openai", "--credential", "file:relative/k"], "absolute"),
        (["add", "x", "--provider", "openai", "--credential-stdin"], "empty"),
        (
            ["add", "x", "--provider", "openai", "--credential-stdin", "--credential", "env:K"],
            "only one",
        ),
        (["add", "x", "--provider", "openai", "--credential-prompt"], "not a terminal"),
        (["edit", "prod-openai"], "nothing to change"),
        (["edit", "prod-openai", "--name", "local llama"], "already exists"),
        (["edit", "prod-openai", "--model", "m", "--clear-model"], "not both"),
        (["edit", "ghost", "--rpm", "1"], "no integration"),
        (["rm", "prod-openai"], "--yes"),
        (["rm", "ghost", "--yes"], "no integration"),
        (["enable", "ghost"], "no integration"),
        (["disable", ""], "empty"),
        (["--tenant", "bad tenant!", "list"], "tenant"),
        (["--tenant", "bad tenant!"], "tenant"),  # the console, refused before it starts
        (["frobnicate"], "invalid choice"),
        (["list", "--status", "sleeping"], "invalid choice"),
    ],
)
def test_bad_input_exits_64_and_changes_nothing(db: Path, args: list[str], needle: str) -> None:
    before = fingerprint(db)
    assert_usage_error(byok(*args, db=db), needle)
    assert fingerprint(db) == before


def test_edit_changes_only_what_is_given(db: Path) -> None:
    run = byok("edit", "prod-openai", "--rpm", "60", "--base-url", "http://127.0.0.1:9/v1",
               "--json", db=db)  # fmt: skip
    assert run.code == 0, run.err
    detail = IntegrationDetailResult.model_validate(run.json)
    assert detail.rate_limit_rpm == 60 and detail.default_model == "gpt-4o-mini"
    assert detail.config == {"base_url": "http://127.0.0.1:9/v1"}
    assert detail.credential_hint == "sk-…PdE5"  # the key is kept
    run = byok("edit", "prod-openai", "--clear-model", "--name", "prod", "--json", db=db)
    assert run.json["default_model"] is None and run.json["name"] == "prod"
    new_key = "sk-new-0000000000000000000000Q9aZ"
    run = byok("edit", "prod", "--credential-stdin", "--json", db=db, input=new_key + "\n")
    assert run.code == 0 and run.json["credential_hint"] == "sk-…Q9aZ"
    assert new_key not in run.out


def test_rm_with_yes_and_json(db: Path) -> None:
    iid = byok("show", "prod-openai", "--json", db=db).json["id"]
    run = byok("rm", "PROD-openai", "--yes", "--json", db=db)
    assert run.code == 0, run.err
    assert run.json == {"deleted": True, "integration_id": iid}
    assert byok("list", "--json", db=db).json["total"] == 1
    assert byok("show", iid, db=db).code == 64


def test_enable_disable_json(db: Path) -> None:
    run = byok("enable", "prod-openai", "--json", db=db)
    assert run.code == 0
    assert set(run.json) == {"integration_id", "status", "message"}
    assert run.json["status"] == "enabled"
    run = byok("disable", "prod-openai", db=db)
    assert run.code == 0 and "disabled" in run.out
    assert byok("show", "prod-openai", "--json", db=db).json["status"] == "disabled"


def test_tenant_option_and_env_scope_everything(db: Path) -> None:
    run = byok("--tenant", "acme", "add", "prod-openai", "--provider", "ollama", db=db)
    assert run.code == 0, run.err  # same name, other tenant
    assert byok("list", "--json", "--tenant", "acme", db=db).json["total"] == 1
    assert byok("list", "--json", db=db, env={"BYOK_TENANT": "acme"}).json["total"] == 1
    assert byok("list", "--json", db=db).json["total"] == 2
    acme_id = byok("show", "prod-openai", "--json", "--tenant", "acme", db=db).json["id"]
    assert_usage_error(byok("show", acme_id, db=db), "no integration")


def test_byok_db_env_is_the_default_database(db: Path) -> None:
    run = byok("list", "--json", env={"BYOK_DB": str(db)})
    assert run.json["total"] == 2


def test_default_database_lives_in_the_user_data_dir(isolated_env: Path) -> None:
    assert byok("add", "x", "--provider", "ollama").code == 0
    assert (isolated_env / "data" / "byok" / "byok.json").is_file()


def test_corrupt_database_names_the_file_without_traceback(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    db.write_text("{not json")
    run = byok("list", db=db)
    assert run.code == 74, (run.code, run.err)
    assert str(db) in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert db.read_text() == "{not json"
    debug = byok("--debug", "list", db=db)
    assert debug.code == 74 and "Traceback" in debug.err


def test_human_output_works_with_the_facade_data(db: Path) -> None:
    """The CLI and the facade see the same file: what one writes the other reads."""
    import asyncio

    async def names() -> list[str]:
        f = IntegrationsFacade(db)
        try:
            return [i.name for i in (await f.list_integrations("default")).items]
        finally:
            await f.aclose()

    assert asyncio.run(names()) == ["Local Llama", "prod-openai"]


def test_console_on_a_corrupt_database_exits_74_without_touching_it(tmp_path: Path) -> None:
    db = tmp_path / "byok.json"
    db.write_bytes(b'{"_meta": [1, 2')
    run = byok(db=db)  # no subcommand: the console, which must refuse before drawing anything
    assert run.code == 74, (run.code, run.err)
    assert str(db) in run.err and "Traceback" not in run.err
    assert db.read_bytes() == b'{"_meta": [1, 2'


def test_an_ascii_locale_never_breaks_printing(db: Path) -> None:
    """cron's locale may not encode '…' or 'é': the table still prints, with replacements."""
    assert byok("add", "café-é", "--provider", "ollama", db=db).code == 0
    run = byok("list", db=db, env={"PYTHONIOENCODING": "ascii"})
    assert run.code == 0, run.err
    assert "caf?-?" in run.out
