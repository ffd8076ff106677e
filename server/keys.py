"""API key file: hashed keys with their user and role, and `python -m server.keys add`.

The file is JSON, mode 0600::

    {"version": 1, "keys": [
        {"user": "alice", "role": "submitter", "key_hash": "sha256:<hex>", "created_at": "..."}
    ]}

Only hashes are stored. A plain SHA-256 is enough here, and deliberate: every key is minted by
`add_key` as 32 random bytes (`secrets.token_urlsafe`), so there is no dictionary or
brute-force attack for a salt or a slow hash (scrypt, PBKDF2) to slow down — guessing a
256-bit key from its hash is infeasible at any speed. Slow hashes protect low-entropy
passwords; on high-entropy tokens they would only add milliseconds to every request.
Because the hash of a random key is itself unpredictable, a presented key is checked by
hashing it and looking the hash up, and the lookup's timing reveals nothing useful.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

Role = Literal["submitter", "reviewer"]
ROLES: tuple[Role, ...] = get_args(Role)
KEYS_FILE_ENV = "CONDUCTOR_API_KEYS_FILE"  # the key file's path, read once at server start
KEY_PREFIX = "cdk_"
HASH_SCHEME = "sha256"
FILE_VERSION = 1


class KeyFileError(ValueError):
    """The key file is missing, unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One API key as stored: who it belongs to, their role, and the key's hash."""

    user: str
    role: Role
    key_hash: str
    created_at: str = ""


def hash_key(key: str) -> str:
    """The stored form of an API key: `sha256:<hex digest>`."""
    return f"{HASH_SCHEME}:{hashlib.sha256(key.encode()).hexdigest()}"


def new_key() -> str:
    """A fresh random API key (32 random bytes, URL-safe, with a recognisable prefix)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyRing:
    """The keys of one key file, looked up by the hash of a presented key."""

    def __init__(self, entries: Iterable[KeyEntry]) -> None:
        self._by_hash: dict[str, KeyEntry] = {}
        roles: dict[str, Role] = {}
        for entry in entries:
            if entry.key_hash in self._by_hash:
                raise KeyFileError(f"duplicate key hash for user {entry.user!r}")
            if roles.setdefault(entry.user, entry.role) != entry.role:
                raise KeyFileError(f"user {entry.user!r} has keys with different roles")
            self._by_hash[entry.key_hash] = entry

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def entries(self) -> list[KeyEntry]:
        """Every stored entry, in file order."""
        return list(self._by_hash.values())

    def identify(self, key: str | None) -> KeyEntry | None:
        """The entry whose key this is, or None for a missing or unknown key."""
        if not key:
            return None
        return self._by_hash.get(hash_key(key))


def _parse_entry(raw: Any, index: int) -> KeyEntry:
    if not isinstance(raw, Mapping):
        raise KeyFileError(f"keys[{index}] is not an object")
    user, role, key_hash = raw.get("user"), raw.get("role"), raw.get("key_hash")
    if not isinstance(user, str) or not user.strip():
        raise KeyFileError(f"keys[{index}].user must be a non-empty string")
    if role not in ROLES:
        raise KeyFileError(f"keys[{index}].role must be one of {ROLES}, not {role!r}")
    if not isinstance(key_hash, str) or not key_hash.startswith(f"{HASH_SCHEME}:"):
        raise KeyFileError(f"keys[{index}].key_hash must be '{HASH_SCHEME}:<hex>'")
    return KeyEntry(
        user=user,
        role=cast(Role, role),
        key_hash=key_hash,
        created_at=str(raw.get("created_at", "")),
    )


def load_key_file(path: Path) -> KeyRing:
    """Read and validate a key file.

    Raises:
        KeyFileError: The file is missing, not JSON, or has an invalid entry.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeyFileError(f"API key file {path} does not exist") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"API key file {path} is unreadable: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise KeyFileError(f"API key file {path} must be an object with a 'keys' list")
    return KeyRing(_parse_entry(raw, i) for i, raw in enumerate(data["keys"]))


def is_private(path: Path) -> bool:
    """Whether only the owner may read or write the file (no group or other bits)."""
    return path.stat().st_mode & 0o077 == 0


def _write_private(path: Path, entries: Sequence[KeyEntry]) -> None:
    """Write the key file atomically with mode 0600 (never briefly world-readable)."""
    payload = {"version": FILE_VERSION, "keys": [asdict(e) for e in entries]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(payload, out, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_key(path: Path, user: str, role: Role) -> str:
    """Mint a key for `user` with `role`, store only its hash in `path`, return the key.

    The file is created if it does not exist. A user keeps one role: adding a key with
    another role for an existing user is refused.

    Raises:
        KeyFileError: Invalid user or role, a role conflict, or an unreadable file.
    """
    if role not in ROLES:
        raise KeyFileError(f"role must be one of {ROLES}, not {role!r}")
    if not user.strip():
        raise KeyFileError("user must be a non-empty string")
    existing = load_key_file(path).entries if path.exists() else []
    key = new_key()
    entry = KeyEntry(
        user=user,
        role=role,
        key_hash=hash_key(key),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    KeyRing([*existing, entry])  # validates the role conflict before anything is written
    _write_private(path, [*existing, entry])
    return key


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m server.keys add --file F --user U --role R` and `list --file F`."""
    parser = argparse.ArgumentParser(prog="python -m server.keys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="mint a key, print it once, store only its hash")
    add.add_argument("--file", type=Path, required=True, help="the JSON key file")
    add.add_argument("--user", required=True, help="user id the key authenticates")
    add.add_argument("--role", required=True, choices=ROLES)
    show = commands.add_parser("list", help="users and roles in a key file (no secrets)")
    show.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            key = add_key(args.file, args.user, args.role)
            print(key)
            print(
                f"stored the hash for {args.user} ({args.role}) in {args.file}; "
                "the key is not shown again",
                file=sys.stderr,
            )
        else:
            for entry in load_key_file(args.file).entries:
                print(f"{entry.user}\t{entry.role}\t{entry.created_at}")
    except KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
