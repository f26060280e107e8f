"""Spend as the providers report it: admin accounts, sync of their usage and cost reports, the
links from byok's integrations to the providers' key ids, and recorded-vs-reported drift.

Kept in its own side file (`byok.spend.json`), apart from recorded usage: see docs/spend.md.
"""
