"""Typed, frozen models of every file kind, and their loaders."""
