"""The x264 settings a clip records, and the encoder options that write the same SPS/PPS.

Stream-copied clips and re-encoded transition windows share one H.264 stream, so the
windows must carry the clips' exact parameter sets. x264 writes its settings as text into
the first frame (a user-data SEI); the options below decide the parameter sets, and
passing them back reproduces them (libx264's other defaults, such as the preset's, only
change how frames are coded). The compiler checks the result and re-encodes everything
when it does not match.
"""

from __future__ import annotations

import re
from pathlib import Path

from workers.media.container import VideoTrack

_SEI = re.compile(rb"x264 - core \d+[ -~]*? - options: ([ -~]+)")
# Settings copied verbatim: SEI name -> x264 option name. The first ten shape the parameter
# sets; the rest keep the clip's speed/quality trade-off (what its preset chose).
_VERBATIM = {
    "cabac": "cabac",
    "ref": "ref",
    "8x8dct": "8x8dct",
    "bframes": "bframes",
    "weightb": "weightb",
    "weightp": "weightp",
    "subme": "subme",
    "trellis": "trellis",
    "psy": "psy",
    "constrained_intra": "constrained-intra",
    "me": "me",
    "me_range": "merange",
    "mixed_ref": "mixed-refs",
    "rc_lookahead": "rc-lookahead",
    "mbtree": "mbtree",
    "b_adapt": "b-adapt",
}
_PYRAMIDS = ("none", "strict", "normal")
_DIRECT = ("none", "spatial", "temporal", "auto")


def read_x264_settings(path: str | Path, track: VideoTrack) -> dict[str, str] | None:
    """The `options:` of the x264 SEI in the clip's first frame; None when it has none."""
    offset, size = track.first_sample
    if not size:
        return None
    with Path(path).open("rb") as fh:
        fh.seek(offset)
        found = _SEI.search(fh.read(size))
    if found is None:
        return None
    pairs = (item.partition("=") for item in found[1].decode("ascii").split())
    return {key: value for key, _, value in pairs}


def matching_params(settings: dict[str, str]) -> tuple[float, tuple[tuple[str, str], ...]] | None:
    """(crf, x264 params) that reproduce the parameter sets of a clip with `settings`, or
    None when it was not a CRF encode (its initial QP then depends on the rate control)."""
    if settings.get("rc") != "crf" or "crf" not in settings:
        return None
    try:
        params = [(_VERBATIM[k], v) for k, v in settings.items() if k in _VERBATIM]
        if "b_pyramid" in settings:
            params.append(("b-pyramid", _PYRAMIDS[int(settings["b_pyramid"])]))
        if "direct" in settings:
            params.append(("direct", _DIRECT[int(settings["direct"])]))
        if "aq" in settings:
            mode, _, strength = settings["aq"].partition(":")
            params += [("aq-mode", mode), *([("aq-strength", strength)] if strength else [])]
        psy_rd, psy_trellis = (float(x) for x in settings.get("psy_rd", "0:0").split(":"))
        if "chroma_qp_offset" in settings:
            offset = int(settings["chroma_qp_offset"]) + _psy_chroma_shift(
                settings, psy_rd, psy_trellis
            )
            params.append(("chroma-qp-offset", str(offset)))
        if settings.get("psy") == "1":
            params.append(("psy-rd", f"{psy_rd:.2f},{psy_trellis:.2f}"))
        return float(settings["crf"]), tuple(params)
    except (ValueError, IndexError):
        return None


def _psy_chroma_shift(settings: dict[str, str], psy_rd: float, psy_trellis: float) -> int:
    """What x264 subtracted from the chroma QP offset for psy-RD and psy-trellis: the SEI
    records the result, the option takes the value before it."""
    if settings.get("psy") != "1":
        return 0
    shift = 0
    if psy_rd > 0 and int(settings.get("subme", "0")) >= 6:
        shift += 1 if psy_rd < 0.25 else 2
    if psy_trellis > 0 and settings.get("trellis", "0") != "0":
        shift += 1 if psy_trellis < 0.25 else 2
    return shift
