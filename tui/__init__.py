"""byok's terminal user interface: the Textual console and the `byok` command line.

Console API (used by `tui.cli.main`):

    from tui.app import ByokApp, run_console

    ByokApp(facade: core.IntegrationsFacade | None = None, *, tenant_id="default",
            probe_interval_s: float | None = 300, clock=None, refresh_interval_s=1.0,
            cursor_blink=True, theme=None, db_path=None, dashboard=None,
            sync_interval_s: float | None = 900)
        facade              the core facade to use (its own dashboard serves the reads).
        dashboard           an open core.Dashboard to read from; the full facade is built over
                            it after the first paint. Given neither, the app opens `db_path`
                            (or the default db) as a Dashboard and closes it when it ends.
        probe_interval_s    background probes of stale enabled integrations; None/0 = off.
        clock               a callable returning an aware UTC datetime ("3m ago" is relative
                            to it; snapshots pin it).
        refresh_interval_s  how often the live refresh checks the database for changes by any
                            process (a few stat calls); None/0 = off. It also drives the
                            console's own clock: with nothing changed for 5 s, the ages and
                            the rolling minute of requests repaint.
        sync_interval_s     the background spend sync (core.spend): in a thread, the provider
                            accounts nobody synced for this long, once after start and then
                            this long after each run ended; None/0 = off (`s`/`:sync` still do).
        cursor_blink        False for stable snapshots.
        theme               a Textual theme name; default textual-dark, or ansi-dark in a
                            16-colour terminal or with NO_COLOR (ansi-light if
                            $COLORFGBG says the background is light). $BYOK_THEME also sets it.

    run_console(db_path=None, tenant_id="default", *, dashboard=None, **opts) -> int
        Opens the database as a Dashboard unless one is given (a StoreError propagates to the
        caller), runs the app (opts go to ByokApp), closes the files, returns the exit code.

Start-up, in order: the Dashboard reads the first screen in a thread while Textual starts; the
home screen paints from it; then a worker builds the full facade over the same open files
(pydantic, httpx, cryptography load only then) and the other screens import on first use.
"""
