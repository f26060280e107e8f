"""Providers: the catalogue of what byok knows about each (`catalogue`), the per-provider probe
specs and answer classifier (`probes`), and the probes' HTTP transport (`transport`)."""
