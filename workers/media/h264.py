"""The few H.264 sequence parameter set fields that decide whether a clip can be stream-copied.

A copied clip keeps its own pixels, so it must already be 8-bit 4:2:0, limited range and
progressive, as every episode is. The MP4 sample entry does not say so; the SPS it carries
(in avcC) does. Parsing it here takes microseconds, where opening the file with libavformat
to ask costs milliseconds per clip (a decode for stream info), on every compile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.errors import PermanentError

# Profiles whose SPS spells out chroma format and bit depth (else 4:2:0, 8-bit).
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
# Colour description codes that mean BT.709 or "not said" (players then assume BT.709 for HD).
_BT709_OR_UNSPECIFIED = {1, 2}
# chroma_sample_loc_type -> ffmpeg's name for it.
CHROMA_LOCATIONS = ("left", "center", "topleft", "top", "bottomleft", "bottom")
# The common aspect_ratio_idc values (H.264 table E-1): 0 says nothing, 1 is square.
_SAR_TABLE = {0: None, 1: "1/1", 2: "12/11", 3: "10/11", 4: "16/11", 5: "40/33"}


class SpsError(PermanentError):
    """The avcC record or its SPS is truncated or malformed."""

    code = "bad_sps"


@dataclass(frozen=True)
class Sps:
    """What an SPS says about the pixels: profile, chroma format, depth, scan, range, colour
    chroma siting and pixel aspect ratio (None where it says nothing)."""

    profile: int
    chroma_format: int
    bit_depth: int
    progressive: bool
    full_range: bool
    colour: tuple[int, int, int] | None
    chroma_location: str | None = None
    sar: str | None = None

    @property
    def is_episode_format(self) -> bool:
        """8-bit 4:2:0 progressive, limited range, BT.709 (or untagged) colour."""
        return (
            self.chroma_format == 1
            and self.bit_depth == 8
            and self.progressive
            and not self.full_range
            and all(c in _BT709_OR_UNSPECIFIED for c in self.colour or (2, 2, 2))
        )


def parse_avcc(avcc: bytes) -> Sps:
    """The first SPS of an avcC (AVCDecoderConfigurationRecord).

    :raises SpsError: when the record or the SPS cannot be read.
    """
    if len(avcc) < 8 or avcc[0] != 1 or not avcc[5] & 0x1F:
        raise SpsError("avcC record without an SPS")
    size = int.from_bytes(avcc[6:8], "big")
    if len(avcc) < 8 + size:
        raise SpsError("avcC record truncated")
    try:
        return _parse_sps(_unescape(avcc[8 : 8 + size]))
    except IndexError as exc:
        raise SpsError("SPS truncated") from exc


def _unescape(nal: bytes) -> bytes:
    """Drop emulation-prevention bytes (00 00 03 -> 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise SpsError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _parse_sps(nal: bytes) -> Sps:
    bits = _Bits(nal)
    bits.u(8)  # NAL header
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format, bit_depth = 1, 8
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.u(1)
        bit_depth = 8 + bits.ue()
        bits.ue()  # chroma depth
        bits.u(1)
        if bits.u(1):
            _skip_scaling_lists(bits, 12 if chroma_format == 3 else 8)
    bits.ue()  # log2_max_frame_num
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    bits.ue()  # width in macroblocks
    bits.ue()  # height in map units
    progressive = bool(bits.u(1))
    if not progressive:
        bits.u(1)
    bits.u(1)  # direct_8x8_inference
    if bits.u(1):
        for _ in range(4):
            bits.ue()
    if not bits.u(1):  # no VUI
        return Sps(profile, chroma_format, bit_depth, progressive, False, None)
    return Sps(profile, chroma_format, bit_depth, progressive, *_video_signal(bits))


def _video_signal(
    bits: _Bits,
) -> tuple[bool, tuple[int, int, int] | None, str | None, str | None]:
    sar = None
    if bits.u(1):  # aspect_ratio_info_present
        idc = bits.u(8)
        sar = f"{bits.u(16)}/{bits.u(16)}" if idc == 255 else _SAR_TABLE.get(idc, f"idc{idc}")
    if bits.u(1):  # overscan info
        bits.u(1)
    full_range, colour = False, None
    if bits.u(1):  # video_signal_type_present
        bits.u(3)
        full_range = bool(bits.u(1))
        colour = (bits.u(8), bits.u(8), bits.u(8)) if bits.u(1) else None
    location = None
    if bits.u(1):  # chroma_loc_info_present
        top = bits.ue()
        bits.ue()
        location = CHROMA_LOCATIONS[top] if top < len(CHROMA_LOCATIONS) else None
    return full_range, colour, location, sar


def _skip_scaling_lists(bits: _Bits, count: int) -> None:
    for i in range(count):
        if not bits.u(1):
            continue
        last, following = 8, 8
        for _ in range(16 if i < 6 else 64):
            if following:
                following = (last + bits.se() + 256) % 256
            last = following or last


def idr_samples(path: Path, spans: list[tuple[int, int]], avcc: bytes) -> tuple[int, ...]:
    """Indices (into `spans`, the sync samples' file spans) of the samples whose first slice
    is an IDR slice; other sync samples are open-GOP recovery points.

    :raises SpsError: when the avcC record is too short to give the NAL length size.
    """
    if len(avcc) < 5:
        raise SpsError("avcC record truncated")
    length_size = (avcc[4] & 3) + 1
    found = []
    with path.open("rb") as fh:
        for index, (offset, size) in enumerate(spans):
            if _first_slice_type(fh, offset, size, length_size) == _IDR_SLICE:
                found.append(index)
    return tuple(found)


_IDR_SLICE, _SLICE = 5, 1


def _first_slice_type(fh, offset: int, size: int, length_size: int) -> int | None:
    """The NAL type of the first slice in a length-prefixed sample."""
    end = offset + size
    while offset + length_size < end:
        fh.seek(offset)
        head = fh.read(length_size + 1)
        if len(head) < length_size + 1:
            return None
        kind = head[length_size] & 0x1F
        if kind in (_IDR_SLICE, _SLICE):
            return kind
        offset += length_size + int.from_bytes(head[:length_size], "big")
    return None
