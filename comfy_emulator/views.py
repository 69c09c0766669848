"""Responses of the file and status GET routes: /view, /system_stats."""

from __future__ import annotations

import mimetypes
import os
import platform
import sys
from typing import Any

from aiohttp import web

from comfy_emulator.preview import preview_response
from comfy_emulator.storage import Storage

VRAM_TOTAL = 25769803776


def view_file(storage: Storage, query: Any) -> web.StreamResponse:
    """GET /view with the real guards: 400 traversal/bad type, 403 subfolder escape, 404."""
    if "filename" not in query:
        return web.Response(status=404)
    filename, kind = storage.split_annotation(query["filename"], default="")
    if not filename:
        return web.Response(status=400)
    if filename[0] == "/" or ".." in filename:
        return web.Response(status=400)
    output_dir = storage.directory(kind or query.get("type", "output"))
    if output_dir is None:
        return web.Response(status=400)
    if "subfolder" in query:
        full = os.path.join(output_dir, query["subfolder"])
        if os.path.commonpath((os.path.abspath(full), output_dir)) != output_dir:
            return web.Response(status=403)
        output_dir = full
    filename = os.path.basename(filename)
    path = os.path.join(output_dir, filename)
    if not os.path.isfile(path):
        return web.Response(status=404)
    special = preview_response(path, filename, query)
    if special is not None:
        return special
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": f'filename="{filename}"',
            "Content-Type": content_type(filename),
        },
    )


def content_type(filename: str) -> str:
    """mimetypes guess; HTML/JS/CSS served as octet-stream like the real server."""
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if guessed in {
        "text/html",
        "text/html-sandboxed",
        "application/xhtml+xml",
        "text/javascript",
        "text/css",
    }:
        return "application/octet-stream"
    return guessed


def system_stats_body() -> dict[str, Any]:
    """A /system_stats body shaped like the recording, with one fake CUDA device."""
    return {
        "system": {
            "os": os.name,
            "ram_total": 25276510208,
            "ram_free": 24220962816,
            "comfyui_version": "0.3.64",
            "required_frontend_version": "1.27.10",
            "installed_templates_version": "0.1.95",
            "required_templates_version": "0.1.95",
            "python_version": sys.version,
            "pytorch_version": "2.13.0+cu128",
            "embedded_python": False,
            "argv": ["main.py", "--emulator", platform.node()],
        },
        "devices": [
            {
                "name": "cuda:0 NVIDIA GeForce RTX 4090 (emulated) : cudaMallocAsync",
                "type": "cuda",
                "index": 0,
                "vram_total": VRAM_TOTAL,
                "vram_free": VRAM_TOTAL - 1073741824,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        ],
    }
