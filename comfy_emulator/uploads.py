"""POST /upload/image: the real naming rules (duplicates kept, 'name (1).png' on clashes)."""

from __future__ import annotations

import hashlib
import os

from aiohttp import web

from comfy_emulator.storage import Storage, hash_file


async def save_upload(storage: Storage, request: web.Request) -> web.Response:
    """Store a multipart 'image' part under input/temp/output; 400 on traversal or no file."""
    post = await request.post()
    image = post.get("image")
    overwrite = post.get("overwrite")
    kind = post.get("type") or "input"
    upload_dir = storage.directory(str(kind))
    if upload_dir is None:
        return web.Response(status=500)
    if image is None or not hasattr(image, "file") or not image.filename:
        return web.Response(status=400)
    subfolder = str(post.get("subfolder", ""))
    folder = os.path.join(upload_dir, os.path.normpath(subfolder))
    filename = image.filename
    path = os.path.abspath(os.path.join(folder, filename))
    if os.path.commonpath((upload_dir, path)) != upload_dir:
        return web.Response(status=400)
    os.makedirs(folder, exist_ok=True)
    data = image.file.read()
    digest = hashlib.sha256(data).hexdigest()
    stem, ext = os.path.splitext(filename)
    duplicate = False
    if overwrite not in ("true", "1"):
        counter = 1
        while os.path.exists(path):
            if hash_file(path) == digest:
                duplicate = True
                break
            filename = f"{stem} ({counter}){ext}"
            path = os.path.join(folder, filename)
            counter += 1
    if not duplicate:
        with open(path, "wb") as handle:
            handle.write(data)
    return web.json_response({"name": filename, "subfolder": subfolder, "type": kind})
