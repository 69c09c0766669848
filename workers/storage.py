"""Artifact storage: keys (relative, slash-separated) mapped onto files under ARTIFACT_ROOT.

Every node mounts the same root (NFS in a multi-node farm); an object store can implement the
same small interface later.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from shared.errors import ValidationError

log = logging.getLogger(__name__)


class LocalStore:
    """Artifacts as files under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file behind `key`.

        :raises ValidationError: when the key would leave the root.
        """
        return self.root / check_key(key)

    def exists(self, key: str) -> bool:
        """Whether an artifact is stored under `key`."""
        return self.path(key).is_file()

    def put_file(self, key: str, source: Path) -> Path:
        """Move (or copy across file systems) `source` into place atomically; repeats overwrite."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
        os.close(fd)
        shutil.move(str(source), tmp)
        # Temp files are owner-only; artifacts are read by other nodes and the web app.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return dest

    def delete(self, key: str) -> None:
        """Remove an artifact if present."""
        self.path(key).unlink(missing_ok=True)

    def remove_empty_folder(self, key: str) -> None:
        """Remove the folder `key` if it is empty (an attempt's folder once its outputs went)."""
        with contextlib.suppress(OSError, ValidationError):
            self.path(key).rmdir()

    def delete_tree(self, key: str) -> None:
        """Remove an artifact or a folder of them (a job's outputs, frames) if present."""
        path = self.path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def remove_artifacts(store: LocalStore, keys: Iterable[str]) -> list[str]:
    """Delete these artifacts (files or folders); returns the keys removed. One that cannot be
    removed is logged and skipped: callers remove files after the rows naming them are gone, so
    nothing else would ever remove it."""
    removed = []
    for key in keys:
        try:
            store.delete_tree(key)
        except (OSError, ValidationError) as exc:
            log.warning("artifact not removed key=%s: %s", key, exc)
        else:
            removed.append(key)
    return removed


def check_key(key: str) -> str:
    """A normalised relative key.

    :raises ValidationError: for absolute keys, '..' or empty parts.
    """
    posix = PurePosixPath(key)
    if not key or posix.is_absolute() or any(p in ("", ".", "..") for p in posix.parts):
        raise ValidationError(f"bad artifact key {key!r}", fields={"key": "must be relative"})
    return str(posix)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (memory stays flat)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
