"""A contact sheet: a job's scene keyframes tiled into one PNG with their scene numbers."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from tower_client.errors import NotReadyError

if TYPE_CHECKING:
    from tower_client.api import TowerClient

TILE_WIDTH = 320
LABEL_H = 20
GAP = 8
BACKGROUND = (24, 24, 28)
INK = (235, 235, 235)


def keyframe_assets(report: dict[str, Any]) -> list[tuple[int, int]]:
    """(scene number, asset id) of each scene's latest succeeded image (its keyframe), in
    order."""
    latest: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for stage in report["stages"]:
        makes_image = any(o["kind"] == "image" for o in stage["outputs"])
        if not makes_image or stage["status"] != "succeeded" or not stage["scene_id"]:
            continue
        if stage["scene_id"] not in latest:
            order.append(stage["scene_id"])
        if stage["attempt"] >= latest.get(stage["scene_id"], {}).get("attempt", 0):
            latest[stage["scene_id"]] = stage
    found = []
    for number, scene_id in enumerate(order, start=1):
        image = next((o for o in latest[scene_id]["outputs"] if o["kind"] == "image"), None)
        if image is not None:
            found.append((number, image["asset_id"]))
    return found


def make_contact_sheet(
    client: TowerClient, job_id: int, dest: str | Path, *, columns: int = 2
) -> Path:
    """Download a job's keyframes and tile them (labelled by scene) into the PNG `dest`.

    :raises NotReadyError: when the job has no finished keyframe.
    :raises ApiError: when the job or an asset cannot be read.
    """
    frames = keyframe_assets(client.status(job_id))
    if not frames:
        raise NotReadyError(f"job {job_id} has no finished keyframe yet")
    images = [(number, fetch_image(client, asset_id)) for number, asset_id in frames]
    sheet = tile_images(images, columns=columns)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    sheet.save(tmp, format="PNG")
    os.replace(tmp, dest)
    return dest


def fetch_image(client: TowerClient, asset_id: int) -> Image.Image:
    """An image asset decoded in memory (keyframes are small).

    :raises ApiError: when it cannot be read.
    """
    response = client.request("GET", f"/api/anime/assets/{asset_id}/content")
    with Image.open(io.BytesIO(response.content)) as image:
        return image.convert("RGB")


def tile_images(images: list[tuple[int, Image.Image]], *, columns: int) -> Image.Image:
    """Images scaled to one width, in a grid with `scene N` under each."""
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    scaled = [
        (n, im.resize((TILE_WIDTH, max(1, round(im.height * TILE_WIDTH / im.width)))))
        for n, im in images
    ]
    tile_h = max(im.height for _, im in scaled) + LABEL_H
    width = columns * TILE_WIDTH + (columns + 1) * GAP
    height = rows * tile_h + (rows + 1) * GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (number, image) in enumerate(scaled):
        x = GAP + (i % columns) * (TILE_WIDTH + GAP)
        y = GAP + (i // columns) * (tile_h + GAP)
        sheet.paste(image, (x, y))
        draw.text((x + 4, y + image.height + 4), f"scene {number}", fill=INK)
    return sheet
