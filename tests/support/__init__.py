"""Test support shared by every test folder: one clock, one fake-server fixture, one CLI runner."""
