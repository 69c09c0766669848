"""File transfer with a ComfyUI server: streamed `/view` downloads and `/upload/image`."""

from __future__ import annotations

import logging
import mimetypes
import os
import tempfile
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import requests

from workers.comfyui.errors import ComfyProtocolError, ComfyUnavailable
from workers.comfyui.kept_pool import KeptPool
from workers.comfyui.outputs import OutputFile, UploadedFile, safe_name

if TYPE_CHECKING:
    from workers.comfyui.client import ComfyClient

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
SYNC_THREADS = 8
# Frames moved at once: enough to overlap one request's round trip and the server's work with
# the next, few enough not to crowd the backend's HTTP server while it renders.
TRANSFER_THREADS = 4
WRITEBACK_BYTES = 4 * CHUNK_BYTES
TRANSFERS = KeptPool(TRANSFER_THREADS, "comfyui-transfer")
SYNCS = KeptPool(SYNC_THREADS, "comfyui-fsync")

Item = TypeVar("Item")
Result = TypeVar("Result")


def transfer_all(move: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """`move` each item (a frame's upload or download) a few at a time; the results in order.
    The first failure is raised once every transfer has ended, so none is left writing behind
    the caller."""
    if len(items) <= 1:
        return [move(item) for item in items]
    pool = TRANSFERS.get()
    moving = [pool.submit(move, item) for item in items]
    _wait_all(moving)
    return [future.result() for future in moving]


def _wait_all(futures: list[Future]) -> None:
    """Wait until every future ended. Interrupted (a task's soft time limit), the ones not yet
    started are cancelled and the running ones still waited for: none writes behind the
    caller."""
    try:
        wait(futures)
    except BaseException:
        for future in futures:
            future.cancel()
        wait(futures)
        raise


def download(client: ComfyClient, file: OutputFile, dest: Path, *, durable: bool = True) -> Path:
    """Stream `/view` into a temp file beside `dest`, fsync it, then rename it into place.

    The caller chooses `dest`; the server's file name is only a query parameter here.
    `durable=False` leaves the fsyncs to the caller's `make_durable` over all its files.

    :raises ComfyProtocolError: the server has no such file (or refused the query).
    :raises ComfyUnavailable: the transfer failed or was cut short.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    response = client.request("GET", "/view", params=file.view_params(), stream=True)
    with response:
        if response.status_code != 200:
            raise ComfyProtocolError(
                f"GET /view {file.subfolder}/{file.filename} answered {response.status_code}"
            )
        expected = _expected_length(response)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        # mkstemp makes owner-only files; artifacts are read by other nodes and the web app.
        os.fchmod(fd, 0o644)
        try:
            written = _stream_to(response, fd, durable=durable)
            if expected is not None and written != expected:
                raise ComfyUnavailable(
                    f"GET /view {file.filename} ended after {written} of {expected} bytes"
                )
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    if durable:
        _fsync_dir(dest.parent)
    logger.info("comfyui downloaded file=%s bytes=%d dest=%s", file.filename, written, dest)
    return dest


def _expected_length(response: requests.Response) -> int | None:
    """Content-Length when the body is not re-encoded in transit."""
    length = response.headers.get("Content-Length")
    if length is None or response.headers.get("Content-Encoding"):
        return None
    try:
        return int(length)
    except ValueError:
        return None


def _stream_to(response: requests.Response, fd: int, *, durable: bool = True) -> int:
    """Copy the body to the open file descriptor in chunks, fsync (if durable), close; bytes
    written.

    :raises ComfyUnavailable: the connection failed mid-body.
    """
    written = flushed = 0
    with os.fdopen(fd, "wb") as out:
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
                if written - flushed >= WRITEBACK_BYTES:
                    _start_writeback(out, flushed, written - flushed)
                    flushed = written
        except requests.RequestException as exc:
            raise ComfyUnavailable(f"download interrupted after {written} bytes: {exc}") from exc
        out.flush()
        if durable:
            os.fsync(out.fileno())
    return written


def make_durable(paths: Collection[Path]) -> None:
    """fsync downloaded files and their folders all at once: the filesystem's journal commits
    concurrent fsyncs together (six small files: ~11 ms here instead of ~37 ms one by one).

    :raises OSError: a file could not be synced.
    """
    folders = {path.parent for path in paths}
    if not paths:
        return
    pool = SYNCS.get()
    synced = [pool.submit(_fsync_file, path) for path in paths]
    synced += [pool.submit(_fsync_dir, folder) for folder in folders]
    _wait_all(synced)
    for future in synced:
        future.result()


def _fsync_file(path: Path) -> None:
    """Make a written file's data durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _start_writeback(out: BinaryIO, offset: int, length: int) -> None:
    """Start writing a finished window to disk now and drop it from the page cache.

    On Linux, DONTNEED on dirty pages starts asynchronous writeback, so the final fsync has
    little left to do and the disk works while the network still delivers; it also keeps a
    large video from filling the page cache.
    """
    out.flush()
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(out.fileno(), offset, length, os.POSIX_FADV_DONTNEED)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; some filesystems cannot fsync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def upload(
    client: ComfyClient, path: Path, *, subfolder: str, name: str | None, overwrite: bool
) -> UploadedFile:
    """POST a file to `/upload/image` (type input) and return the name the server stored.

    :raises ComfyProtocolError: the server refused the upload (e.g. a subfolder outside root).
    :raises ComfyUnavailable: the backend is unreachable or failing.
    """
    stored_as = safe_name(name or path.name, fallback="upload.png")
    mime = mimetypes.guess_type(stored_as)[0] or "application/octet-stream"
    fields = {
        "subfolder": subfolder,
        "type": "input",
        "overwrite": "true" if overwrite else "false",
    }
    with path.open("rb") as handle:
        response = client.request(
            "POST", "/upload/image", files={"image": (stored_as, handle, mime)}, data=fields
        )
    if response.status_code != 200:
        raise ComfyProtocolError(f"POST /upload/image answered {response.status_code}")
    try:
        body = response.json()
        return UploadedFile(str(body["name"]), str(body.get("subfolder", "")), str(body["type"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ComfyProtocolError("POST /upload/image answered an unexpected body") from exc
