"""What the server fixtures hand to tests (importable from test modules, unlike conftest)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthServer:
    """A dev server with API keys enforced, and one key per test user."""

    url: str
    keys: dict[str, str]  # user -> API key
