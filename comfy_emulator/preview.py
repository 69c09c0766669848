"""GET /view's preview= and channel= variants (re-encoded pictures)."""

from __future__ import annotations

import io
from typing import Any

from aiohttp import web
from PIL import Image


def preview_response(path: str, filename: str, query: Any) -> web.Response | None:
    """A re-encoded response for preview=/channel=, or None to serve the file as is."""
    disposition = {"Content-Disposition": f'filename="{filename}"'}
    if "preview" in query:
        fmt, _, quality = query["preview"].partition(";")
        fmt = fmt if fmt in ("webp", "jpeg") else "webp"
        try:
            with Image.open(path) as img:
                buffer = io.BytesIO()
                out = img.convert("RGB") if fmt == "jpeg" else img.copy()
                out.save(buffer, format=fmt, quality=int(quality or 90))
        except OSError:
            return None
        return web.Response(
            body=buffer.getvalue(), content_type=f"image/{fmt}", headers=disposition
        )
    channel = query.get("channel", "rgba")
    if channel not in ("rgb", "a"):
        return None
    try:
        with Image.open(path) as img:
            rgba = img.convert("RGBA")
    except OSError:
        return None
    if channel == "rgb":
        picture = rgba.convert("RGB")
    else:
        alpha = rgba.getchannel("A")
        picture = Image.new("RGBA", rgba.size)
        picture.putalpha(alpha)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return web.Response(body=buffer.getvalue(), content_type="image/png", headers=disposition)
