"""A contact sheet: a job's scene keyframes tiled into one PNG under the production's title,
each labelled with its scene's order, and the scenes without one shown as missing."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from tower_client.errors import NotReadyError
from tower_client.filenames import inside, name_part

if TYPE_CHECKING:
    from tower_client.api import TowerClient

TILE_WIDTH = 320
LABEL_H = 20
TITLE_H = 24
MISSING = (70, 40, 44)
GAP = 8
BACKGROUND = (24, 24, 28)
INK = (235, 235, 235)


@dataclass(frozen=True)
class Tile:
    """One scene of the sheet: its order, its keyframe's asset id, or why it has none."""

    scene: int
    asset_id: int | None
    missing: str = ""


def scene_tiles(report: dict[str, Any]) -> list[Tile]:
    """Every scene of the job in order, with its latest succeeded image (its keyframe), or
    marked missing with what became of its first unfinished stage (a failed job's scenes)."""
    image: dict[int, tuple[int, int]] = {}  # scene id -> (attempt, asset id)
    unfinished: dict[int, str] = {}
    orders: dict[int, int] = {}
    for stage in sorted(report["stages"], key=lambda s: s["id"]):
        scene_id = stage["scene_id"]
        if not scene_id:
            continue
        order = stage.get("scene_order")
        orders.setdefault(scene_id, scene_id if order is None else order)
        found = next((o for o in stage["outputs"] if o["kind"] == "image"), None)
        if stage["status"] == "succeeded" and found:
            if stage["attempt"] >= image.get(scene_id, (0, 0))[0]:
                image[scene_id] = (stage["attempt"], found["asset_id"])
        elif stage["status"] != "succeeded":
            unfinished.setdefault(scene_id, stage["status"])
    return [
        Tile(orders[i], image[i][1])
        if i in image
        else Tile(orders[i], None, unfinished.get(i, "no image"))
        for i in sorted(orders, key=lambda i: orders[i])
    ]


def sheet_title(report: dict[str, Any], job_id: int) -> str:
    """`Neon Rain · episode 1: Pilot · job 8 (failed)`."""
    parts = [report.get("project_name") or ""]
    if report.get("episode_number") is not None:
        parts.append(f"episode {report['episode_number']}: {report.get('episode_title') or ''}")
    parts.append(f"job {job_id} ({report['status']})")
    return " · ".join(p for p in parts if p)


def make_contact_sheet(
    client: TowerClient, job_id: int, dest: str | Path | None = None, *, columns: int = 2
) -> Path:
    """Download a job's keyframes and tile them, every scene labelled by its order (a scene
    without one shown as missing), under the production's title, into the PNG `dest` (by
    default `<project>-ep<N>-<title>-contact-sheet.png` here).

    :raises NotReadyError: when the job has no finished keyframe.
    :raises ApiError: when the job or an asset cannot be read.
    """
    report = client.status(job_id)
    tiles = scene_tiles(report)
    if not any(t.asset_id for t in tiles):
        raise NotReadyError(f"job {job_id} has no finished keyframe yet")
    images = [
        (t, fetch_image(client, t.asset_id) if t.asset_id is not None else None) for t in tiles
    ]
    sheet = tile_images(images, title=sheet_title(report, job_id), columns=columns)
    if dest is None:
        stem = name_part(report.get("file_stem") or f"job{job_id}", 80)
        dest = inside(Path("."), f"{stem}-contact-sheet.png")
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


def tile_images(
    images: list[tuple[Tile, Image.Image | None]], *, title: str, columns: int
) -> Image.Image:
    """Images scaled to one width in a grid under `title`, `scene N` under each; a scene
    without an image is a blank tile saying it is missing."""
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    found = [im for _, im in images if im is not None]
    ratio = found[0].height / found[0].width if found else 9 / 16
    scaled = [
        (
            tile,
            im.resize((TILE_WIDTH, max(1, round(im.height * TILE_WIDTH / im.width))))
            if im is not None
            else Image.new("RGB", (TILE_WIDTH, max(1, round(TILE_WIDTH * ratio))), MISSING),
        )
        for tile, im in images
    ]
    tile_h = max(im.height for _, im in scaled) + LABEL_H
    width = columns * TILE_WIDTH + (columns + 1) * GAP
    height = TITLE_H + rows * tile_h + (rows + 1) * GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, GAP), title, fill=INK)
    for i, (tile, image) in enumerate(scaled):
        x = GAP + (i % columns) * (TILE_WIDTH + GAP)
        y = TITLE_H + GAP + (i // columns) * (tile_h + GAP)
        sheet.paste(image, (x, y))
        if tile.asset_id is None:
            draw.text((x + 8, y + 8), f"missing ({tile.missing})", fill=INK)
        draw.text((x + 4, y + image.height + 4), f"scene {tile.scene}", fill=INK)
    return sheet
