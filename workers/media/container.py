"""Reading an MP4's track tables directly: frame count, frame timing, keyframes, codec config.

Samples are stored in decode order; with B-frames (libx264's defaults) presentation order
differs, given by the composition offsets (ctts) and the edit list's shift (elst).

The compiler needs these for every clip on every compile; spawning ffprobe/ffmpeg per clip
costs ~50 ms each, which alone would break the stream-copy speed bar, while the MP4 `moov`
box answers in well under a millisecond.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from shared.errors import PermanentError
from workers.media.h264 import idr_samples

_LAYOUT = {b"stco", b"co64", b"stsc", b"stsz"}
# A frame may sit this far (in frames) from its slot on the constant-rate grid and still
# count as on it: timestamps rounded to a coarse timebase (1/1000) stay well inside.
GRID_TOLERANCE = 0.25


class ContainerError(PermanentError):
    """The file is not an MP4 Tower can read (truncated, no moov, no video track)."""

    code = "bad_container"


class TruncatedMedia(ContainerError):
    """The MP4's tables list samples past the end of the file (a copy or download cut short,
    or a writer that died after writing its moov first): decoders stop early, silently."""

    code = "truncated_media"


@dataclass(frozen=True)
class VideoTrack:
    """The facts of an MP4's first video track that compiling depends on.

    Sample lists are in decode order; `keyframes` are the sync samples' decode indices and
    `composition` each sample's presentation time in ticks (the first frame shown at 0).
    """

    codec: str
    width: int
    height: int
    timescale: int
    frame_count: int
    duration_ticks: int
    frame_ticks: int | None
    keyframes: tuple[int, ...]
    codec_config: bytes
    has_audio: bool
    composition: tuple[int, ...] = ()
    plain_edit: bool = True
    first_sample: tuple[int, int] = (0, 0)
    idr_frames: tuple[int, ...] | None = None

    @property
    def duration_s(self) -> float:
        """The track's media duration in seconds."""
        return self.duration_ticks / self.timescale

    @cached_property
    def ranks(self) -> tuple[int, ...]:
        """Each sample's presentation index, in decode order."""
        order = sorted(range(self.frame_count), key=self.composition.__getitem__)
        ranks = [0] * self.frame_count
        for rank, sample in enumerate(order):
            ranks[sample] = rank
        return tuple(ranks)

    @cached_property
    def reorder_delay(self) -> int:
        """How many frames decoding runs ahead of presentation (0 without B-frames)."""
        return max((i - r for i, r in enumerate(self.ranks)), default=0)

    @cached_property
    def cut_points(self) -> tuple[int, ...]:
        """Frames where a stream copy may start, and the end of the track.

        A copy may start at frame k when it is an IDR frame (the decoder starts afresh,
        whatever it decoded before) decoded k-th and shown k-th, with exactly the frames
        shown before it decoded before it: frames k.. then decode on their own. An open
        GOP's I-frame is no such start: no IDR, and its leading B-frames follow it.
        """
        closed = self._closed_prefixes
        starts = self.keyframes if self.idr_frames is None else self.idr_frames
        points = [i for i in starts if closed[i] and self.ranks[i] == i]
        return (*points, self.frame_count)

    @cached_property
    def end_points(self) -> tuple[int, ...]:
        """Frames where a stream copy may end: the first k frames decoded are the first k
        shown (with B-frames, not so inside a mini-GOP)."""
        return tuple(i for i, closed in enumerate(self._closed_prefixes) if closed and i)

    @cached_property
    def _closed_prefixes(self) -> tuple[bool, ...]:
        """For k in 0..frame_count: whether the first k samples are the first k frames."""
        closed, shown = [True], -1
        for i, rank in enumerate(self.ranks):
            shown = max(shown, rank)
            closed.append(shown == i)
        return tuple(closed)

    def fps_matches(self, fps: float) -> bool:
        """Whether every frame lasts exactly 1/fps (constant frame rate at `fps`)."""
        return self.frame_ticks is not None and abs(self.timescale / self.frame_ticks - fps) < 1e-6

    def on_grid(self, fps: Fraction) -> bool:
        """Whether the k-th frame shown sits in the k-th slot of a constant `fps` timeline,
        so restamping frame k at k/fps moves no frame past half a slot (nothing resampled).
        """
        if not self.plain_edit or not self.frame_count:
            return False
        slot = Fraction(self.timescale) / fps
        shown = sorted(self.composition)
        return all(abs(t / slot - k) <= GRID_TOLERANCE for k, t in enumerate(shown))


def read_video_track(path: str | Path) -> VideoTrack:
    """Read the first video track's tables from the MP4 at `path`.

    :raises TruncatedMedia: when the file ends before the track's last sample.
    :raises ContainerError: when the file has no readable moov or no video track.
    """
    moov = _read_moov(Path(path))
    video: VideoTrack | None = None
    has_audio = False
    movie_timescale = _movie_timescale(moov)
    for trak in _children(moov, b"trak"):
        mdia = _child(trak, b"mdia")
        handler = _child(mdia, b"hdlr")[8:12]
        if handler == b"soun":
            has_audio = True
        elif handler == b"vide" and video is None:
            video = _parse_video(trak, mdia, movie_timescale)
            stbl = _child(_child(mdia, b"minf"), b"stbl")
    if video is None:
        raise ContainerError(f"{path}: no video track")
    if not video.frame_count:
        raise ContainerError(f"{path}: the video track lists no samples (fragmented MP4?)")
    _check_complete(Path(path), stbl, video.frame_count)
    idr = None
    if video.codec in ("avc1", "avc3") and video.codec_config:
        spans = _sample_spans(stbl, video.keyframes)
        idr = tuple(video.keyframes[i] for i in idr_samples(Path(path), spans, video.codec_config))
    return replace(video, has_audio=has_audio, idr_frames=idr)


def _check_complete(path: Path, stbl: bytes, frame_count: int) -> None:
    """Refuse a file that ends before the video track's last sample does.

    The last chunk holds the last samples, so its offset plus their sizes is where the
    track's data ends: a few table reads, where finding every sample costs a loop per frame.
    """
    tables = {kind: body for kind, body in _boxes(stbl) if kind in _LAYOUT}
    offsets = tables.get(b"stco") or tables.get(b"co64")
    if offsets is None or b"stsz" not in tables or b"stsc" not in tables:
        return
    chunks, runs = struct.unpack_from(">I", offsets, 4)[0], _count(tables[b"stsc"])
    if not chunks or not runs:
        return
    wide = b"co64" in tables and b"stco" not in tables
    last_offset = struct.unpack_from(
        ">Q" if wide else ">I", offsets, 8 + (chunks - 1) * (8 if wide else 4)
    )[0]
    per_chunk = struct.unpack_from(">I", tables[b"stsc"], 8 + 12 * (runs - 1) + 4)[0]
    fixed, count = struct.unpack_from(">II", tables[b"stsz"], 4)
    last = min(count, frame_count)
    first = max(0, last - per_chunk)
    if fixed:
        tail = fixed * (last - first)
    else:
        tail = sum(struct.unpack_from(f">{last - first}I", tables[b"stsz"], 12 + 4 * first))
    end, size = last_offset + tail, path.stat().st_size
    if end > size:
        raise TruncatedMedia(
            f"{path}: truncated: its video track's data ends at byte {end}, the file at {size}"
        )


def _count(table: bytes) -> int:
    """The entry count of a full box table (after version and flags)."""
    return struct.unpack_from(">I", table, 4)[0]


def _read_moov(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            while True:
                header = fh.read(8)
                if len(header) < 8:
                    break
                size, kind = struct.unpack(">I4s", header)
                head = 8
                if size == 1:
                    size = struct.unpack(">Q", fh.read(8))[0]
                    head = 16
                if kind == b"moov":
                    return fh.read((size - head) if size else -1)
                if size == 0:
                    break
                fh.seek(size - head, 1)
    except OSError as exc:
        raise ContainerError(f"{path}: {exc}") from exc
    raise ContainerError(f"{path}: no moov box (not an MP4 or not finished writing)")


def _boxes(data: bytes):
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            head = 16
        elif size == 0:
            size = len(data) - pos
        if size < head:
            raise ContainerError("corrupt box size")
        yield kind, data[pos + head : pos + size]
        pos += size


def _children(data: bytes, kind: bytes) -> list[bytes]:
    return [body for k, body in _boxes(data) if k == kind]


def _child(data: bytes, kind: bytes) -> bytes:
    for k, body in _boxes(data):
        if k == kind:
            return body
    raise ContainerError(f"missing {kind.decode()} box")


def _movie_timescale(moov: bytes) -> int:
    mvhd = _child(moov, b"mvhd")
    return struct.unpack_from(">I", mvhd, 20 if mvhd[0] == 1 else 12)[0]


def _parse_video(trak: bytes, mdia: bytes, movie_timescale: int) -> VideoTrack:
    mdhd = _child(mdia, b"mdhd")
    if mdhd[0] == 1:
        timescale = struct.unpack_from(">I", mdhd, 20)[0]
    else:
        timescale = struct.unpack_from(">I", mdhd, 12)[0]
    stbl = _child(_child(mdia, b"minf"), b"stbl")
    stsd = _child(stbl, b"stsd")
    # stsd: version/flags, entry count, then the first sample entry box.
    entry_size, codec = struct.unpack_from(">I4s", stsd, 8)
    entry = stsd[16 : 8 + entry_size]
    width, height = struct.unpack_from(">HH", entry, 24)
    config = b""
    for kind, body in _boxes(entry[78:]):
        if kind in (b"avcC", b"hvcC"):
            config = body
    deltas: list[tuple[int, int]] = []
    stts = _child(stbl, b"stts")
    for i in range(struct.unpack_from(">I", stts, 4)[0]):
        deltas.append(struct.unpack_from(">II", stts, 8 + 8 * i))
    frame_count = sum(count for count, _ in deltas)
    duration = sum(count * delta for count, delta in deltas)
    distinct = {delta for count, delta in deltas if count}
    keyframes: tuple[int, ...]
    stss = [body for kind, body in _boxes(stbl) if kind == b"stss"]
    if stss:
        n = struct.unpack_from(">I", stss[0], 4)[0]
        keyframes = tuple(k - 1 for k in struct.unpack_from(f">{n}I", stss[0], 8))
    else:
        keyframes = tuple(range(frame_count))
    composition, plain = _presentation(trak, stbl, deltas, timescale, movie_timescale)
    return VideoTrack(
        codec=codec.decode("latin-1"),
        width=width,
        height=height,
        timescale=timescale,
        frame_count=frame_count,
        duration_ticks=duration,
        frame_ticks=distinct.pop() if len(distinct) == 1 else None,
        keyframes=keyframes,
        codec_config=config,
        has_audio=False,
        composition=composition,
        plain_edit=plain,
        first_sample=_first_sample(stbl),
    )


def _presentation(
    trak: bytes, stbl: bytes, deltas: list[tuple[int, int]], timescale: int, movie_scale: int
) -> tuple[tuple[int, ...], bool]:
    """Each sample's presentation time (first frame at 0), and whether the edit list is a
    plain shift that shows every sample (else the clip is re-encoded, honouring it)."""
    times, t = [], 0
    for count, delta in deltas:
        for _ in range(count):
            times.append(t)
            t += delta
    offsets = [0] * len(times)
    ctts = [body for kind, body in _boxes(stbl) if kind == b"ctts"]
    if ctts:
        signed = ">i" if ctts[0][0] == 1 else ">I"
        i = 0
        for k in range(struct.unpack_from(">I", ctts[0], 4)[0]):
            count = struct.unpack_from(">I", ctts[0], 8 + 8 * k)[0]
            (offset,) = struct.unpack_from(signed, ctts[0], 12 + 8 * k)
            offsets[i : i + count] = [offset] * count
            i += count
    shown = [d + o for d, o in zip(times, offsets, strict=True)]
    start = min(shown, default=0)
    plain = True
    edts = [body for kind, body in _boxes(trak) if kind == b"edts"]
    if edts:
        elst = _child(edts[0], b"elst")
        entries = struct.unpack_from(">I", elst, 4)[0]
        wide = elst[0] == 1
        span, media_time = struct.unpack_from(">Qq" if wide else ">Ii", elst, 8)
        end = max(shown, default=0) - start
        plain = (
            entries == 1
            and media_time == start
            and (span == 0 or span * timescale > end * movie_scale)
        )
    return tuple(s - start for s in shown), plain


def _first_sample(stbl: bytes) -> tuple[int, int]:
    """(file offset, size) of the first sample: where an encoder writes its settings SEI."""
    spans = _sample_spans(stbl, (0,))
    return spans[0] if spans else (0, 0)


def _sample_spans(stbl: bytes, wanted: tuple[int, ...]) -> list[tuple[int, int]]:
    """(file offset, size) of the samples `wanted` (decode indices, ascending), from the
    chunk offsets (stco/co64), samples per chunk (stsc) and sizes (stsz)."""
    tables = {kind: body for kind, body in _boxes(stbl) if kind in _LAYOUT}
    if b"stsz" not in tables or b"stsc" not in tables or not wanted:
        return []
    fixed, count = struct.unpack_from(">II", tables[b"stsz"], 4)
    sizes = [fixed] * count if fixed else struct.unpack_from(f">{count}I", tables[b"stsz"], 12)
    kind = b"stco" if b"stco" in tables else b"co64"
    if kind not in tables:
        return []
    n = struct.unpack_from(">I", tables[kind], 4)[0]
    chunks = struct.unpack_from(f">{n}{'I' if kind == b'stco' else 'Q'}", tables[kind], 8)
    runs = struct.unpack_from(">I", tables[b"stsc"], 4)[0]
    firsts = [struct.unpack_from(">II", tables[b"stsc"], 8 + 12 * k) for k in range(runs)]
    spans, sample, targets = [], 0, iter(wanted)
    target = next(targets)
    for k, (first_chunk, per_chunk) in enumerate(firsts):
        last_chunk = firsts[k + 1][0] - 1 if k + 1 < runs else len(chunks)
        for chunk in range(first_chunk - 1, last_chunk):
            offset = chunks[chunk]
            for _ in range(per_chunk):
                if sample == target:
                    spans.append((offset, sizes[sample]))
                    target = next(targets, -1)
                    if target < 0:
                        return spans
                offset += sizes[sample]
                sample += 1
    return spans
