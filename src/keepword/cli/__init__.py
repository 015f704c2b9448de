"""Command-line face (typer). Holds no business logic."""

from keepword.cli.app import app, main

__all__ = ["app", "main"]
