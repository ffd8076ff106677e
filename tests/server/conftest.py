"""A real `langgraph dev` server on a free port, with its own seeded store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dev_servers import AuthServer, absolute_config, free_port, start_dev_server

from server.keys import KEYS_FILE_ENV, Role, add_key

__all__ = ["absolute_config", "free_port", "start_dev_server"]


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `langgraph dev` (no browser, no reload, open auth) and yield its API URL."""
    with start_dev_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A second `langgraph dev`, its own port and workdir, with a key file enforced.

    Users: `alice` and `bob` (submitters), `rita` (reviewer).
    """
    workdir = tmp_path_factory.mktemp("auth-server")
    key_file = workdir / "api-keys.json"
    users: dict[str, Role] = {"alice": "submitter", "bob": "submitter", "rita": "reviewer"}
    keys = {user: add_key(key_file, user, role) for user, role in users.items()}
    with start_dev_server(workdir, env={KEYS_FILE_ENV: str(key_file)}) as url:
        yield AuthServer(url=url, keys=keys)
