"""Widgets of the console that are more than a stock Textual widget."""
