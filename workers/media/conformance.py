"""Which clips can be stream-copied into an episode as they are, and the x264 recipe that
lets re-encoded pieces join them in one stream."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from workers.media.container import VideoTrack
from workers.media.encoding import Encoding
from workers.media.h264 import SpsError, parse_avcc
from workers.media.x264 import matching_params, read_x264_settings

log = logging.getLogger(__name__)


def conforms(track: VideoTrack, enc: Encoding) -> bool:
    """Whether the clip can be copied as it is: H.264 (parameter sets in avcC) at the
    episode's size, 8-bit 4:2:0 limited range, each frame in its slot at the episode's rate."""
    if track.codec != "avc1" or (track.width, track.height) != (enc.width, enc.height):
        return False
    try:
        sps = parse_avcc(track.codec_config)
    except SpsError:
        return False
    return sps.is_episode_format and track.on_grid(enc.fps)


def episode_encoding(
    tracks: Sequence[VideoTrack | None], paths: Sequence[str | Path], base: Encoding
) -> Encoding:
    """The episode's x264 recipe: that of the most common copyable clips when their encoder
    recorded it (so windows and re-encoded clips join them in one stream), else Tower's.
    `tracks[i]` is clip `paths[i]`'s MP4 track, None for other containers."""
    conforming = [
        (path, track)
        for path, track in zip(paths, tracks, strict=True)
        if track is not None and conforms(track, base)
    ]
    if not conforming:
        return base
    config = Counter(t.codec_config for _, t in conforming).most_common(1)[0][0]
    path, track = next((p, t) for p, t in conforming if t.codec_config == config)
    settings = read_x264_settings(path, track)
    params = matching_params(settings) if settings else None
    if params is None:
        log.info("the copyable clips name no x264 CRF settings; encoding with Tower's")
        return base
    sps = parse_avcc(config)
    location = sps.chroma_location or base.chroma_location
    return base.matching(*params, chroma_location=location, sar=sps.sar or "0")
