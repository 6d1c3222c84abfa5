"""Segments: the criteria grammar (validation here; the SQL compiler lives beside it)."""
