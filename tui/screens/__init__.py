"""Textual screens of the cardlab app."""
