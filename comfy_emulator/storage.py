"""The input/output/temp folders and ComfyUI's file-name rules for them."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from comfy_emulator.errors import EmulatedError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".webm", ".mp4", ".mkv", ".gif", ".mov")
ANNOTATIONS = {"[output]": "output", "[input]": "input", "[temp]": "temp"}


class OutsideOutputError(EmulatedError):
    """A filename_prefix escapes the output folder (reported as a plain Exception)."""


class Storage:
    """Owns <root>/input, <root>/output and <root>/temp like a ComfyUI base directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.dirs = {t: str(self.root / t) for t in ("input", "output", "temp")}
        for path in self.dirs.values():
            os.makedirs(path, exist_ok=True)

    def directory(self, kind: str | None) -> str | None:
        """Absolute folder for a type name, None for an unknown type."""
        return self.dirs.get(kind or "")

    def split_annotation(self, name: str, default: str = "input") -> tuple[str, str]:
        """Strip a trailing ' [output]'-style annotation: (name, folder type)."""
        for suffix, kind in ANNOTATIONS.items():
            if name.endswith(" " + suffix):
                return name[: -len(suffix) - 1], kind
        return name, default

    def annotated_path(self, name: str, default: str = "input") -> str:
        """Full path of a LoadImage-style name ('sub/x.png', 'x.png [output]')."""
        plain, kind = self.split_annotation(name, default)
        return os.path.join(self.dirs[kind], plain)

    def exists_annotated(self, name: str) -> bool:
        """True when the annotated name points at an existing file."""
        return os.path.exists(self.annotated_path(name))

    def list_input_images(self) -> list[str]:
        """Top-level image files of the input folder (LoadImage's combo list)."""
        return self._list_files(IMAGE_EXTENSIONS)

    def list_input_videos(self) -> list[str]:
        """Top-level video files of the input folder (VHS_LoadVideo's combo list)."""
        return self._list_files(VIDEO_EXTENSIONS)

    def list_input_folders(self) -> list[str]:
        """Subfolders of the input folder (VHS_LoadImages' combo list)."""
        base = self.dirs["input"]
        return sorted(e.name for e in os.scandir(base) if e.is_dir())

    def _list_files(self, extensions: tuple[str, ...]) -> list[str]:
        base = self.dirs["input"]
        return sorted(
            e.name for e in os.scandir(base) if e.is_file() and e.name.lower().endswith(extensions)
        )

    def save_path(
        self, prefix: str, kind: str = "output", width: int = 0, height: int = 0
    ) -> tuple[str, str, int, str]:
        """(folder, base name, next counter, subfolder) for a core saver's prefix.

        :raises OutsideOutputError: when the prefix leaves the folder.
        """
        output_dir = self.dirs[kind]
        if "%" in prefix:
            prefix = expand_prefix(prefix, width, height)
        subfolder = os.path.dirname(os.path.normpath(prefix))
        filename = os.path.basename(os.path.normpath(prefix))
        folder = os.path.join(output_dir, subfolder)
        common = os.path.commonpath((output_dir, os.path.abspath(folder)))
        if common != output_dir:
            raise OutsideOutputError(
                "**** ERROR: Saving image outside the output folder is not allowed."
                "\n full_output_folder: "
                + os.path.abspath(folder)
                + "\n         output_dir: "
                + output_dir
                + "\n         commonpath: "
                + common
            )
        os.makedirs(folder, exist_ok=True)
        counter = 1
        for entry in os.listdir(folder):
            head, sep, rest = entry.partition(filename + "_")
            if head or not sep:
                continue
            digits = rest.split("_")[0]
            if digits.isdigit() and rest[len(digits) : len(digits) + 1] == "_":
                counter = max(counter, int(digits) + 1)
        return folder, filename, counter, subfolder

    def vhs_save_path(self, prefix: str, kind: str) -> tuple[str, str, int, str]:
        """Like save_path but with VideoHelperSuite's counter rule (prefix_00001.ext).

        :raises OutsideOutputError: when the prefix leaves the folder.
        """
        folder, filename, _, subfolder = self.save_path(prefix, kind)
        pattern = re.compile(re.escape(filename) + r"_(\d+)\D*\..+")
        counter = 0
        for entry in os.listdir(folder):
            match = pattern.fullmatch(entry)
            if match:
                counter = max(counter, int(match.group(1)))
        return folder, filename, counter + 1, subfolder


def expand_prefix(prefix: str, width: int, height: int) -> str:
    """Substitute %width%, %height% and the date fields like the real server."""
    now = time.localtime()
    values = {
        "width": width,
        "height": height,
        "year": now.tm_year,
        "month": f"{now.tm_mon:02}",
        "day": f"{now.tm_mday:02}",
        "hour": f"{now.tm_hour:02}",
        "minute": f"{now.tm_min:02}",
        "second": f"{now.tm_sec:02}",
    }
    for key, value in values.items():
        prefix = prefix.replace(f"%{key}%", str(value))
    return prefix


def hash_file(path: str) -> str:
    """sha256 of a file's bytes (IS_CHANGED of loaders and the upload duplicate check)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
