"""Fixtures: the synthetic world on each backend, a runtime, a loaded deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from keepword.deployment import Deployment, load_deployment
from keepword.runtime import Keepword
from keepword.settings import load_settings
from tests.requests.world import World, build


def world_urls(store_url: URL, tmp_path: Path) -> dict[str, URL]:
    if store_url.get_backend_name() == "sqlite":
        return {"app": store_url, "crm": make_url(f"sqlite:///{tmp_path / 'crm.db'}")}
    return {"app": store_url, "crm": store_url}


@pytest.fixture
def world(store_url: URL, tmp_path: Path) -> World:
    """The synthetic deployment on SQLite, PostgreSQL and MariaDB."""
    return build(tmp_path / "deploy", world_urls(store_url, tmp_path))


@pytest.fixture
def sqlite_world(sqlite_url: URL, tmp_path: Path) -> World:
    return build(tmp_path / "deploy", world_urls(sqlite_url, tmp_path))


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Keepword]:
    """A runtime with a SQLite control store in the test's folder."""
    kw = Keepword(load_settings(home=tmp_path / "home",
                                control_url=f"sqlite:///{tmp_path / 'home' / 'control.db'}"))
    yield kw
    kw.close()


def deployment(world: World) -> Deployment:
    return load_deployment(world.root, environ=world.env, data_dir=world.root)


@pytest.fixture
def dep(world: World) -> Iterator[Deployment]:
    d = deployment(world)
    yield d
    d.close()


@pytest.fixture
def sqlite_dep(sqlite_world: World) -> Iterator[Deployment]:
    d = deployment(sqlite_world)
    yield d
    d.close()
