"""keepword: privacy policies as code, kept against real databases."""

__version__ = "0.1.0"
