"""A scratch directory per media call, and the atomic move of its result into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def stage_output(dest: str | Path) -> Iterator[tuple[Path, Path]]:
    """Yield (scratch dir, temporary output path); on a clean exit move the output to `dest`.

    The scratch dir sits beside `dest` so the final rename stays on one filesystem and is
    atomic: a reader sees the old file or the whole new one, never a half-written file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".tower-media-") as tmp:
        work = Path(tmp)
        out = work / ("out" + dest.suffix)
        yield work, out
        os.replace(out, dest)
