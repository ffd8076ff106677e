"""Tests on a real model served here (`make test-local`): skipped unless one is running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conductor_cli.local_model import BUSY_TIMEOUT_S, is_serving

URL_ENV = "CONDUCTOR_LOCAL_MODEL_URL"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here `local`; skip them when no local model server is given."""
    url = os.environ.get(URL_ENV)
    skip = pytest.mark.skip(
        reason=f"{URL_ENV} is not set: `make test-local` starts a model server and sets it"
    )
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.local)
            if not url:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def local_url() -> str:
    """The base URL (…/v1) of the running model server; fails when it does not answer."""
    url = os.environ[URL_ENV]
    assert is_serving(url, timeout=BUSY_TIMEOUT_S), f"no model server answers at {url}"
    return url
