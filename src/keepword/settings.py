"""Typed settings, built by a factory (never at import time).

``KEEPWORD_HOME`` is the work folder (default ``./.keepword``): it holds the
SQLite control store and, unless ``KEEPWORD_SECRET_KEY`` is given, a random key
file created on first use. Weak or placeholder secrets are refused.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keepword.errors import InputError, Location, Problem

_PLACEHOLDERS = {"changeme", "secret", "changethis", "password", "keepword", "default"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEPWORD_", extra="ignore")

    home: Path = Path(".keepword")
    control_url: str | None = None  # default: SQLite file in ``home``
    secret_key: SecretStr | None = None  # base64 or hex, >= 32 bytes; default: key file

    @field_validator("secret_key")
    @classmethod
    def _refuse_weak(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.lower() in _PLACEHOLDERS or len(_decode_key(raw)) < 32:
            raise ValueError("KEEPWORD_SECRET_KEY must be a random key of at least 32 bytes "
                             "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return value

    def control_store_url(self) -> str:
        return self.control_url or f"sqlite:///{self.home / 'control.db'}"

    def key(self) -> bytes:
        """The master key: from the environment, else the home key file (created once)."""
        if self.secret_key is not None:
            return _decode_key(self.secret_key.get_secret_value())
        path = self.home / "secret.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return _decode_key(path.read_text().strip())


def _decode_key(raw: str) -> bytes:
    try:
        return bytes.fromhex(raw)
    except ValueError:
        pass
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = [Problem(e["msg"], Location(file="environment",
                                               path=tuple(str(p) for p in e["loc"])))
                    for e in exc.errors(include_input=False, include_url=False)]
        raise InputError(problems) from None
