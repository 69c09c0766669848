"""Reading a text file the user names, to a limit: a device or a runaway file
(`tower validate /dev/zero`) would otherwise be read for ever."""

from __future__ import annotations

from pathlib import Path

# The farm takes 2 MiB of JSON; a file's comments and indentation get four times that.
MAX_FILE_CHARS = 8 * 1024 * 1024


class TooLong(ValueError):
    """The file is longer than the farm would take."""


def read_text_limited(path: Path, limit_chars: int = MAX_FILE_CHARS) -> str:
    """The file's text.

    :raises OSError: when it cannot be read.
    :raises UnicodeDecodeError: when it is not UTF-8.
    :raises TooLong: past `limit_chars`.
    """
    with path.open(encoding="utf-8") as stream:
        text = stream.read(limit_chars + 1)
    if len(text) > limit_chars:
        raise TooLong(f"longer than {limit_chars // 2**20} MiB, more than the farm takes")
    return text
