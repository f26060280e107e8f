"""byok's terminal user interface: the Textual console and the `byok` command line.

Console API (used by `tui.cli`):

    from tui.app import ByokApp, run_console

    ByokApp(facade: core.IntegrationsFacade | None = None, *, tenant_id="default",
            probe_interval_s: float | None = 300, clock=None, refresh_interval_s=1.0,
            cursor_blink=True, theme=None, db_path=None)
        facade              the core facade to use; None opens `db_path` (or the default db)
                            and closes it when the app ends.
        probe_interval_s    background probes of stale enabled integrations; None/0 = off.
        clock               a callable returning an aware UTC datetime ("3m ago" is relative
                            to it; snapshots pin it).
        refresh_interval_s  how often the live refresh checks the database for changes by any
                            process (a few stat calls); None/0 = off.
        cursor_blink        False for stable snapshots.
        theme               a Textual theme name; default textual-dark, or ansi-dark in a
                            16-colour terminal or with NO_COLOR. $BYOK_THEME also sets it.

    run_console(db_path=None, tenant_id="default", **opts) -> int
        Opens the facade (a StoreError propagates to the caller), runs the app (opts go to
        ByokApp), closes the facade, returns the exit code.
"""
