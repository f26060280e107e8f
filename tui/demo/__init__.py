"""The demo: `run` starts the console on a temporary database against the `fakeprovider` server,
filled with the one sample tenant of `sample` (also used by the snapshot tests and screenshots)."""
