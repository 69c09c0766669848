"""Title and end cards: text rendered with Pillow, encoded like any other clip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from workers.media.encoding import Encoding
from workers.media.tool import run_ffmpeg

# Dark blue, not black: a card must not read as a black stretch to QC's blackdetect.
BACKGROUND = (34, 44, 84)
FOREGROUND = (245, 240, 225)


@dataclass(frozen=True)
class Card:
    """A text card: its lines, how long it shows, and how it joins the neighbouring scene."""

    text: str
    duration_s: float = 2.0
    subtitle: str = ""
    transition: str = "fade_black"
    transition_s: float = 0.5


def draw_card(card: Card, width: int, height: int) -> Image.Image:
    """Draw the card's text centred on its background, scaled to the frame."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=max(8, height // 8))
    sub_font = ImageFont.load_default(size=max(6, height // 14))
    lines = [(card.text, title_font)] + ([(card.subtitle, sub_font)] if card.subtitle else [])
    boxes = [draw.textbbox((0, 0), text, font=font) for text, font in lines]
    gap = height // 20
    total = sum(b[3] - b[1] for b in boxes) + gap * (len(lines) - 1)
    y = (height - total) / 2
    for (text, font), box in zip(lines, boxes, strict=True):
        x = (width - (box[2] - box[0])) / 2 - box[0]
        draw.text((x, y - box[1]), text, font=font, fill=FOREGROUND)
        y += box[3] - box[1] + gap
    return image


def render_card(
    card: Card, out: str | Path, encoding: Encoding, *, keyframe_s: float = 0.0
) -> Path:
    """Encode `card` as a clip of its duration in `encoding` at `out`.

    :raises FfmpegError: when ffmpeg fails.
    """
    out = Path(out)
    still = out.with_suffix(".png")
    draw_card(card, encoding.width, encoding.height).save(still)
    forced = (round(keyframe_s * encoding.fps),) if keyframe_s > 0 else ()
    run_ffmpeg(
        ["-loop", "1", "-framerate", str(encoding.fps), "-t", f"{card.duration_s:.6f}",
         "-i", still, "-vf", encoding.filter_chain(), *encoding.encoder_args(forced), out]
    )  # fmt: skip
    return out
