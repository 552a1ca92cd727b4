"""Fixtures of the dashboard tests: one seeded state directory and the servers on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import TOKEN, Seeded, Serve, seed_state


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    # Built once per session, before the function-scoped safety net of tests/conftest.py
    # exists: so the same net is spread here, around the real cycle.
    import argus.act.disk as disk

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("seeding the dashboard's state tried to clean this host")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(disk, "clean_disk", refuse)
        return seed_state(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="session")
def server(seeded: Seeded) -> Iterator[Serve]:
    """``argus serve`` on loopback with no token, the default setup."""
    serve = Serve(seeded.state_dir)
    yield serve
    assert serve.stop() == 0


@pytest.fixture(scope="session")
def token_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-config") / "argus.toml"
    path.write_text(f'[web]\ntoken = "{TOKEN}"\n')
    return path


@pytest.fixture(scope="session")
def token_server(seeded: Seeded, token_config: Path) -> Iterator[Serve]:
    """``argus serve`` with ``web.token`` set."""
    serve = Serve(seeded.state_dir, token_config)
    yield serve
    assert serve.stop() == 0
