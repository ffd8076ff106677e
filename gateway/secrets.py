"""Credential providers: per-agent keys by reference, from 0600 files or the environment.

A credential is always named by its reference (e.g. "classify_intent"); only the provider
ever holds the value. Log and trace the reference, never the value.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from gateway.errors import InsecureSecretFile, SecretError, SecretNotFound

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@runtime_checkable
class SecretProvider(Protocol):
    """Where credential values come from."""

    def get(self, credential_ref: str) -> str:
        """Return the value of `credential_ref`.

        Raises:
            SecretNotFound: When the provider does not hold it.
            SecretError: When it exists but cannot be used.
        """
        ...


def check_ref(credential_ref: str) -> str:
    """Return `credential_ref` if it is a safe name (letters, digits, `_`, `.`, `-`).

    Raises:
        SecretError: On an empty name, a path separator or a leading dot.
    """
    if not _REF.match(credential_ref):
        raise SecretError(f"bad credential reference {credential_ref!r}")
    return credential_ref


class FileSecretStore:
    """One file per credential in a directory; files must have mode 0600."""

    def __init__(self, directory: Path | str) -> None:
        """Use `directory` (created with mode 0700 on the first `put`)."""
        self.directory = Path(directory)

    def get(self, credential_ref: str) -> str:
        """Read the credential's file, refusing one that others may read or write.

        Raises:
            SecretNotFound: When there is no file for the reference.
            InsecureSecretFile: When the file's mode is not 0600 (or it is not a regular file).
        """
        path = self.directory / check_ref(credential_ref)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise SecretNotFound(f"no secret file for credential {credential_ref!r}") from None
        except OSError as exc:
            raise SecretError(
                f"cannot open the secret file of credential {credential_ref!r}: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            mode = stat.S_IMODE(info.st_mode)
            if not stat.S_ISREG(info.st_mode) or mode != 0o600:
                raise InsecureSecretFile(
                    f"refusing the secret file of credential {credential_ref!r} at {path}: "
                    f"mode is {mode:04o}, must be 0600 (chmod 600 {path})"
                )
            value = handle.read().decode("utf-8").strip()
        if not value:
            raise SecretNotFound(f"the secret file of credential {credential_ref!r} is empty")
        return value

    def put(self, credential_ref: str, value: str) -> Path:
        """Write the credential's file with mode 0600 (replacing any earlier value).

        Returns:
            The file's path.
        """
        path = self.directory / check_ref(credential_ref)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(value.encode("utf-8"))
        return path


class EnvSecretProvider:
    """Credentials from `CONDUCTOR_SECRET_<REF upper>`, then the shared `OPENAI_API_KEY`."""

    def __init__(
        self, environ: Mapping[str, str | SecretStr], *, fallback_var: str | None = "OPENAI_API_KEY"
    ) -> None:
        """Use a snapshot of the environment (read once, at the edge).

        Args:
            environ: The variables; values may be `SecretStr`.
            fallback_var: Variable used when the reference has none of its own.
        """
        self._environ = dict(environ)
        self._fallback_var = fallback_var

    @staticmethod
    def variable_for(credential_ref: str) -> str:
        """Return the variable holding `credential_ref` (`.` and `-` become `_`)."""
        return "CONDUCTOR_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", check_ref(credential_ref)).upper()

    def get(self, credential_ref: str) -> str:
        """Return the value from the reference's own variable, else the fallback variable.

        Raises:
            SecretNotFound: When neither is set.
        """
        names = [self.variable_for(credential_ref)]
        if self._fallback_var:
            names.append(self._fallback_var)
        for name in names:
            value = self._environ.get(name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text:
                return text
        raise SecretNotFound(
            f"no secret for credential {credential_ref!r} (set {' or '.join(names)})"
        )


class ChainedSecretProvider:
    """Ask providers in order; the first that holds the reference answers."""

    def __init__(self, *providers: SecretProvider) -> None:
        """Chain `providers` (e.g. a `FileSecretStore`, then an `EnvSecretProvider`)."""
        self.providers = providers

    def get(self, credential_ref: str) -> str:
        """Return the first value found.

        Raises:
            SecretNotFound: When no provider holds it (listing why each failed).
            SecretError: When a provider holds it but refuses it (e.g. an insecure file).
        """
        misses: list[str] = []
        for provider in self.providers:
            try:
                return provider.get(credential_ref)
            except SecretNotFound as exc:
                misses.append(str(exc))
        raise SecretNotFound("; ".join(misses) or f"no provider for {credential_ref!r}")


class SimSecretProvider:
    """A fixed dummy key per reference, for the simulated endpoint (which checks none)."""

    def get(self, credential_ref: str) -> str:
        """Return `sim-key-<ref>`."""
        return f"sim-key-{check_ref(credential_ref)}"
