"""Checks of a batch's input file made before anything runs."""

from __future__ import annotations

from pathlib import Path


def check_utf8_lines(path: Path) -> None:
    """Refuse an input file that is not UTF-8, naming the first line and column that is not.

    A JSONL file is text: one line that is not UTF-8 means the file is not what it claims
    to be (another encoding, a binary file), so nothing is run rather than guessed at.

    Raises:
        ValueError: Naming the file, the line, the column and the offending byte.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise ValueError(
            f"{path}: line {line}, column {column}: not UTF-8 (byte 0x{byte}: {exc.reason}); "
            "nothing was run: save the file as UTF-8"
        ) from None
