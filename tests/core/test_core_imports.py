"""What importing `core` costs: the console's read path (core.readside) must run without
pydantic, httpx, aiohttp, cryptography, genai-prices or textual; `import core` alone loads none
of them; every public name still resolves. Checked in fresh interpreters, where sys.modules is
honest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from core import IntegrationsFacade

HEAVY = ("pydantic", "httpx", "aiohttp", "cryptography", "genai_prices", "textual")
T = "acme"


def _run(code: str, *args: str) -> str:
    prelude = (
        "import sys\n"
        f"HEAVY = {HEAVY!r}\n"
        "def loaded():\n"
        "    return sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


async def _real_db(facade: IntegrationsFacade) -> str:
    made = await facade.create_integrations(
        T,
        [
            {"name": f"n{i}", "provider_type": "openai", "credential": f"sk-test-{i:08d}",
             "budget_limit_cents": 500, "rate_limit_rpm": 10}
            for i in range(20)
        ],
    )
    await facade.record_usage_batch(
        T,
        [
            {"integration_id": d.id, "model": "gpt-4o-mini", "input_tokens": 100,
             "output_tokens": 10, "cost_cents": 3, "call_id": f"c{i}"}
            for i, d in enumerate(made)
        ],
    )
    return str(facade.db_path)


async def test_the_dashboard_path_loads_no_heavy_module(facade: IntegrationsFacade) -> None:
    path = await _real_db(facade)
    out = _run(
        """
        import core.readside
        assert loaded() == [], loaded()
        dash = core.readside.Dashboard(sys.argv[1])
        rows = dash.rows("acme")
        figures = dash.limits("acme", [r.id for r in rows])
        counts = dash.counts("acme")
        dash.generation()
        dash.close()
        assert len(rows) == 20 and len(figures) == 20, (len(rows), len(figures))
        assert all(f.budget_used_cents > 0 for f in figures.values())
        assert counts["unknown"] == 20
        print(loaded())
        """,
        path,
    )
    assert out == "[]"


def test_import_core_alone_loads_no_heavy_module() -> None:
    assert _run("import core\nprint(loaded())") == "[]"


def test_the_lazy_exports_resolve() -> None:
    out = _run(
        """
        import core
        names = list(core.__all__)
        missing = [n for n in names if not hasattr(core, n)]
        assert not missing, missing
        assert set(names) <= set(dir(core))
        from core import IntegrationsFacade, HealthState, LimitsStatusResult, Dashboard, Row
        from core import LimitFigures, ValidationError, CATALOGUE, get_integrations_facade
        from core.facade import IntegrationsFacade as F
        assert IntegrationsFacade is F
        try:
            core.NoSuchName
        except AttributeError as exc:
            assert "NoSuchName" in str(exc)
        else:
            raise AssertionError("no AttributeError")
        # the facade alone still costs pydantic, but not httpx, cryptography nor genai-prices
        print(loaded())
        """
    )
    assert out == "['pydantic']"


async def test_heavy_modules_load_only_when_used(db_path: Path) -> None:
    """Sealing a secret loads cryptography, pricing a call genai-prices, a probe aiohttp."""
    out = _run(
        """
        import asyncio
        from core import IntegrationsFacade
        f = IntegrationsFacade(sys.argv[1])
        seen = [loaded()]
        d = asyncio.run(f.create_integration("acme", name="a", provider_type="ollama"))
        seen.append(loaded())
        asyncio.run(f.create_integration("acme", name="b", provider_type="openai",
                                         credential="sk-test-abcdefgh"))
        seen.append(loaded())
        asyncio.run(f.record_usage("acme", d.id, model="m", input_tokens=1, output_tokens=1,
                                   cost_cents=1))
        seen.append(loaded())
        o = asyncio.run(f.create_integration("acme", name="c", provider_type="openai",
                                             credential="sk-test-abcdefgh"))
        asyncio.run(f.record_usage("acme", o.id, model="gpt-4o-mini", input_tokens=1,
                                   output_tokens=1))
        seen.append(loaded())
        import socket
        with socket.socket() as s:  # a port nothing listens on: the probe is refused, for real
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        local = asyncio.run(f.create_integration(
            "acme", name="local", provider_type="ollama",
            config={"base_url": f"http://127.0.0.1:{port}"}))
        seen.append(loaded())
        result = asyncio.run(f.test_credentials("acme", local.id))
        assert result.health_state == "failing", result
        seen.append(loaded())
        print(seen)
        """,
        str(db_path),
    )
    assert out == str(
        [
            ["pydantic"],
            ["pydantic"],  # a keyless integration seals nothing
            ["cryptography", "pydantic"],
            ["cryptography", "pydantic"],  # a call with its cost needs no price table
            ["cryptography", "genai_prices", "pydantic"],
            ["cryptography", "genai_prices", "pydantic"],
            ["aiohttp", "cryptography", "genai_prices", "pydantic"],  # the first probe
        ]
    )
