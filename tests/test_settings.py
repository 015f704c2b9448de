"""Settings are built by a factory, refuse weak secrets, and create a key once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from keepword.errors import InputError
from keepword.settings import load_settings


def test_placeholder_secret_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("KEEPWORD_SECRET_KEY", "changeme")
    with pytest.raises(InputError) as info:
        load_settings()
    assert "at least 32 bytes" in str(info.value)
    assert "changeme" not in str(info.value)


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPWORD_SECRET_KEY", "ab" * 8)
    with pytest.raises(InputError):
        load_settings()


def test_key_file_is_created_once_and_private(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEPWORD_SECRET_KEY", raising=False)
    settings = load_settings(home=tmp_path / "home")
    first = settings.key()
    assert len(first) == 32
    assert settings.key() == first
    mode = (tmp_path / "home" / "secret.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_environment_key_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPWORD_SECRET_KEY", "11" * 32)
    assert load_settings(home=tmp_path).key() == b"\x11" * 32


def test_default_control_store_is_a_sqlite_file_in_home(tmp_path: Path) -> None:
    url = load_settings(home=tmp_path).control_store_url()
    assert url == f"sqlite:///{tmp_path / 'control.db'}"
