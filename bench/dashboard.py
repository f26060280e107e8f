"""The console's read path, cold: what the home screen costs core before its first paint.

    python bench/dashboard.py [--runs 7] [--sizes 1000,10000]

Per fresh process (interpreter start excluded, measured from the first line of the child):
- dashboard: `import core.readside` + Dashboard(path) + rows(tenant) + limits(first 100 ids);
- facade: `import core` + core.IntegrationsFacade (lazy: this is the import) + a facade on the
  path + every list_integrations page (50 a page) + 100 get_limits_status, each its own await
  (what the home screen did before the Dashboard), asyncio's import included.
"proc" is the parent's wall time around the whole child process (interpreter start and exit
included, so it has a floor of a bare `python -c pass`, printed first).
Each child also reports which heavy modules it loaded and its peak RSS. The databases are built
with console.make_db (bulk create + one usage batch), so both benchmarks read the same data.
"""

from __future__ import annotations

import sys
import time

# Only sys and time before a child's clock starts: what the read path imports is what it costs.
ROOT = __file__.rsplit("/bench/", 1)[0]
sys.path.insert(0, ROOT)
sys.path.insert(0, ROOT + "/bench")

HEAVY = ("pydantic", "httpx", "cryptography", "genai_prices", "textual")
TENANT = "default"


def child_dashboard(db: str) -> dict[str, object]:
    t0 = time.perf_counter()
    from core.readside import Dashboard

    t_import = time.perf_counter()
    dash = Dashboard(db)
    rows = dash.rows(TENANT)
    figures = dash.limits(TENANT, [r.id for r in rows[:100]])
    t_end = time.perf_counter()
    assert len(figures) == min(100, len(rows))
    dash.close()
    return {"import": t_import - t0, "total": t_end - t0, "rows": len(rows)}


def child_facade(db: str) -> dict[str, object]:
    t0 = time.perf_counter()
    import asyncio

    import core

    facade_class = core.IntegrationsFacade  # `import core` is lazy: this loads the facade
    t_import = time.perf_counter()
    facade = facade_class(db)

    async def read() -> int:
        items, offset = [], 0
        while True:
            page = await facade.list_integrations(TENANT, offset=offset, limit=50)
            items += page.items
            offset += 50
            if offset >= page.total:
                break
        for item in items[:100]:
            assert await facade.get_limits_status(TENANT, item.id) is not None
        return len(items)

    count = asyncio.run(read())
    t_end = time.perf_counter()
    asyncio.run(facade.aclose())
    return {"import": t_import - t0, "total": t_end - t0, "rows": count}


def child_env(pyc_dir: str | None) -> dict[str, str]:
    """With `pyc_dir`, bytecode is cached there (as for an installed package, whose .pyc files
    pip writes); without, every start compiles core's source (PYTHONDONTWRITEBYTECODE=1 and an
    editable install: this sandbox's default)."""
    import os

    env = dict(os.environ)
    if pyc_dir is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pyc_dir
    return env


def run_child(kind: str, db: str, env: dict[str, str]) -> dict[str, object]:
    import json
    import subprocess

    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, db],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["proc"] = time.perf_counter() - start
    return result


def child_main(kind: str, db: str) -> None:
    result = (child_dashboard if kind == "dashboard" else child_facade)(db)
    import json

    result["heavy"] = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's, which built the database
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    result["rss_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(result))


def main() -> None:
    import argparse
    import asyncio
    import os
    import statistics
    import subprocess
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    import base64

    os.environ.setdefault("BYOK_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    from console import make_db

    sizes = [int(s) for s in args.sizes.split(",")]
    floor = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=child_env(None))
        floor.append((time.perf_counter() - start) * 1000)
    print(f"runs per figure: {args.runs}; ms; total = from the child's first line")
    print(
        f"floor: python -c pass median {statistics.median(floor):.1f} min {min(floor):.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        pyc_dir = str(Path(tmp) / "pycache")
        for n in sizes:
            db = Path(tmp) / f"byok-{n}.json"
            asyncio.run(make_db(db, n))
            for kind, pyc in [(k, p) for p in (True, False) for k in ("dashboard", "facade")]:
                env = child_env(pyc_dir if pyc else None)
                if pyc:
                    run_child(kind, str(db), env)  # warm the bytecode cache, not timed
                results = [run_child(kind, str(db), env) for _ in range(args.runs)]
                totals = [float(r["total"]) * 1000 for r in results]
                imports = [float(r["import"]) * 1000 for r in results]
                procs = [float(r["proc"]) * 1000 for r in results]
                last = results[-1]
                print(
                    f"{n:>6} {kind:<9} {'pyc' if pyc else 'no-pyc':<6} "
                    f"total median {statistics.median(totals):7.1f} "
                    f"min {min(totals):7.1f} | import median {statistics.median(imports):6.1f} "
                    f"| proc median {statistics.median(procs):7.1f} min {min(procs):7.1f} "
                    f"| rows {last['rows']} | peak rss {float(last['rss_mb']):.0f} MB "
                    f"| heavy {last['heavy']}"
                )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
    else:
        main()
