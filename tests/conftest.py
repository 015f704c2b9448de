"""Test configuration: real databases only (fixtures in tests/databases.py)."""

pytest_plugins = ["tests.databases"]
