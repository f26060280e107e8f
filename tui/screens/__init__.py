"""The console's screens: home, detail, limits, health log, and the modals."""
