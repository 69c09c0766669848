"""The one H.264 encoding recipe every clip, window and card goes through.

Stream-copy concatenation only works when every piece carries identical codec parameters
(SPS/PPS), so all encoders in this package take their arguments from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from shared.errors import ValidationError

PIX_FMTS = ("yuv420p",)
# Tower's own recipe: no B-frames (cheaper to encode and to cut).
TOWER_X264 = (("bframes", "0"),)


@dataclass(frozen=True)
class Encoding:
    """An episode's video format: frame rate, size, pixel format and x264 settings."""

    fps: Fraction
    width: int
    height: int
    pix_fmt: str = "yuv420p"
    gop_frames: int = 24
    crf: float = 18
    preset: str = "veryfast"
    x264_params: tuple[tuple[str, str], ...] = TOWER_X264
    chroma_location: str = "left"
    sar: str = "1"

    def matching(
        self,
        crf: float,
        x264_params: tuple[tuple[str, str], ...],
        *,
        chroma_location: str,
        sar: str,
    ) -> Encoding:
        """This format encoded with another x264 recipe (to match clips made elsewhere);
        libx264's default preset, as encoders that set no preset use it. `sar` "0" writes
        no aspect ratio, as encoders fed raw frames do."""
        return replace(
            self, crf=crf, preset="medium", x264_params=x264_params,
            chroma_location=chroma_location, sar=sar,
        )  # fmt: skip

    @property
    def timescale(self) -> int:
        """The MP4 track timescale: the frame rate's numerator doubled up to at least 10000."""
        scale = self.fps.numerator
        while scale < 10000:
            scale *= 2
        return scale

    @property
    def frame_ticks(self) -> int:
        """One frame's duration in timescale ticks (exact: the timescale is a multiple)."""
        return self.timescale * self.fps.denominator // self.fps.numerator

    def filter_chain(self) -> str:
        """The video filters that bring any input to this format (letterboxed, not stretched)."""
        w, h = self.width, self.height
        # Square pixels first: force_original_aspect_ratio keeps the stored width:height, so
        # an anamorphic source (non-square sample aspect ratio) would come out squeezed.
        # Square-pixel sources pass through it untouched (same size, nothing rescaled).
        return (
            f"fps={self.fps},scale=w='iw*sar':h=ih:flags=bicubic,setsar=1,"
            f"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=bicubic,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,{self.frame_tags()}"
        )

    def frame_tags(self) -> str:
        """Filters that tag frames with the episode's aspect ratio, colour and format. The
        encoder takes colour tags from the frames over its options, and they land in the SPS:
        a source's own would make otherwise identical clips unconcatenable."""
        return (
            f"setsar={self.sar},setparams=range=tv:color_primaries=bt709:color_trc=bt709:"
            f"colorspace=bt709,format={self.pix_fmt}"
        )

    def encoder_args(self, forced_frames: tuple[int, ...] = ()) -> list[str]:
        """ffmpeg video output options; keyframes every GOP and at `forced_frames`."""
        expr = f"eq(mod(n,{self.gop_frames}),0)"
        for frame in forced_frames:
            expr += f"+eq(n,{frame})"
        params = ":".join(f"{key}={value}" for key, value in self.x264_params)
        return [
            "-c:v", "libx264", "-preset", self.preset, "-crf", f"{self.crf:g}",
            "-profile:v", "high", "-pix_fmt", self.pix_fmt,
            *(["-x264-params", params] if params else []),
            # Forced keyframes are IDR frames (closed GOPs): a stream copy may cut there.
            "-g", str(self.gop_frames), "-force_key_frames", f"expr:{expr}",
            # Pin the colour tags and chroma siting: they land in the SPS, and a source's own
            # would make otherwise identical clips unconcatenable.
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-color_range", "tv", "-chroma_sample_location", self.chroma_location,
            "-video_track_timescale", str(self.timescale),
            "-an", "-sn", "-dn",
        ]  # fmt: skip


def make_encoding(
    *,
    fps: float | Fraction,
    width: int,
    height: int,
    pix_fmt: str = "yuv420p",
    gop_frames: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> Encoding:
    """Validate and build an Encoding; the GOP defaults to one second of frames.

    :raises ValidationError: on a non-positive rate, odd or tiny size, or unknown pix_fmt.
    """
    rate = Fraction(fps).limit_denominator(1001)
    fields = {}
    if rate <= 0 or rate > 240:
        fields["fps"] = "must be in (0, 240]"
    for name, value in (("width", width), ("height", height)):
        if value < 16 or value % 2:
            fields[name] = "must be an even number of pixels, at least 16"
    if pix_fmt not in PIX_FMTS:
        fields["pix_fmt"] = f"must be one of {', '.join(PIX_FMTS)}"
    gop = gop_frames if gop_frames is not None else max(1, round(rate))
    if gop < 1:
        fields["gop_frames"] = "must be at least 1"
    if fields:
        raise ValidationError("invalid episode video format", fields=fields)
    return Encoding(rate, width, height, pix_fmt, gop, crf, preset)
