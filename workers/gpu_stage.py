"""One GPU stage on one ComfyUI: upload its inputs, submit (or re-attach to) its prompt, follow
it to the end, and fetch the outputs its workflow promises into the artifact store.

Plain functions over a StageSpec: no database, no Celery. The prompt id is chosen by the caller
(derived from the stage run), so a repeat finds the prompt instead of submitting it again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from shared.errors import PermanentError
from workers.comfyui import ComfyClient, Event, OutputFile, PromptOutcome
from workers.comfyui.transfer import make_durable, transfer_all
from workers.media.container import ContainerError, read_video_track
from workers.media.probe import probe_media
from workers.media.tool import FfmpegError, run_ffmpeg
from workers.storage import LocalStore, sha256_of
from workers.workflows import Template, bind
from workers.workflows.loaders import INPUT_FOLDER

log = logging.getLogger(__name__)


class StageOutputMissing(PermanentError):
    """The prompt "succeeded" without the files its workflow promises."""

    code = "stage_output_missing"


@dataclass(frozen=True)
class StageInput:
    """A file from an earlier stage: one image, or a folder of frames."""

    kind: str  # "image" | "frames" | "video"
    path: Path


@dataclass(frozen=True)
class StageSpec:
    """Everything one GPU stage attempt needs, read from its rows by the task."""

    prompt_id: str
    client_id: str
    template: Template
    params: dict[str, Any]
    output_key: str  # artifact folder of this (job, stage, scene, attempt)
    inputs: tuple[StageInput, ...] = ()
    extra_data: dict[str, Any] = field(default_factory=dict)
    deadline_s: float = 1800.0
    prompt: dict[str, Any] | None = None  # bound with runtime_inputs() by the caller, if it did


@dataclass(frozen=True)
class Artifact:
    """One output stored in the artifact store, with its media facts."""

    kind: str
    key: str
    facts: dict[str, Any]


def run_gpu_stage(
    spec: StageSpec,
    client: ComfyClient,
    store: LocalStore,
    *,
    on_event: Callable[[Event], None] | None = None,
    look_first: bool = True,
) -> list[Artifact]:
    """Run (or re-attach to) the stage's prompt and store its outputs.

    `look_first=False` submits without asking the backend where the prompt is: only for a first
    delivery, whose prompt cannot have been submitted yet.

    :raises TransientError: the backend failed in a way worth retrying (unreachable, OOM, ...).
    :raises PermanentError: validation or execution failed, or promised outputs are missing.
    """
    t0 = time.perf_counter()
    where = client.locate(spec.prompt_id) if look_first else None
    if where is None:
        client.submit(
            prompt_of(spec, upload_inputs(spec, client)),
            prompt_id=spec.prompt_id,
            client_id=spec.client_id,
            extra_data=spec.extra_data or None,
            required_outputs=[o.node for o in spec.template.outputs],
        )
    else:
        log.info("re-attaching to prompt_id=%s (%s)", spec.prompt_id, where)
    t1 = time.perf_counter()
    outcome = client.follow(
        spec.prompt_id,
        client_id=spec.client_id,
        deadline=time.monotonic() + spec.deadline_s,
        on_event=on_event,
    )
    outcome.raise_for_status()
    t2 = time.perf_counter()
    stored = store_outputs(spec, outcome, client, store)
    log.info(
        "prompt_id=%s submit_ms=%.0f follow_ms=%.0f fetch_ms=%.0f",
        spec.prompt_id,
        (t1 - t0) * 1000,
        (t2 - t1) * 1000,
        (time.perf_counter() - t2) * 1000,
    )
    return stored


def runtime_inputs(template: Template, prompt_id: str) -> dict[str, str]:
    """The names `upload_inputs` gives the stage's files, known before the upload, so the prompt
    can be bound once (a server that renames an upload costs a second bind)."""
    folder = f"{INPUT_FOLDER}/{prompt_id}"
    names = {"image": f"{folder}/keyframe.png", "frames_dir": f"{folder}/frames"}
    return {k: v for k, v in names.items() if k in template.params}


def prompt_of(spec: StageSpec, uploaded: dict[str, str]) -> dict[str, Any]:
    """The prompt to submit: the caller's, unless the uploads were named otherwise."""
    expected = runtime_inputs(spec.template, spec.prompt_id)
    if spec.prompt is not None and all(expected.get(k) == v for k, v in uploaded.items()):
        return spec.prompt
    return bind(spec.template, {**spec.params, **uploaded}, output_key=spec.output_key)


def upload_inputs(spec: StageSpec, client: ComfyClient) -> dict[str, str]:
    """Upload the stage's input files to the backend; returns the workflow params naming them."""
    folder = f"{INPUT_FOLDER}/{spec.prompt_id}"
    params: dict[str, str] = {}
    for item in spec.inputs:
        if item.kind == "image":
            uploaded = client.upload_image(item.path, subfolder=folder, name="keyframe.png")
            params["image"] = f"{uploaded.subfolder}/{uploaded.name}"
        else:
            frames_dir = f"{folder}/frames"
            with frame_files(item) as frames:
                upload_frames(client, frames, frames_dir)
            params["frames_dir"] = frames_dir
    return params


def upload_frames(client: ComfyClient, frames: list[Path], frames_dir: str) -> None:
    """Upload frames into one input folder, numbered in order, a few at a time."""

    def upload(numbered: tuple[int, Path]) -> None:
        index, frame = numbered
        client.upload_image(frame, subfolder=frames_dir, name=f"{index:05d}.png")

    transfer_all(upload, list(enumerate(frames)))


class frame_files:  # noqa: N801 - used as a context manager like open()
    """The PNG frames of an input: a frames folder as is, or a video decoded to a temp folder."""

    def __init__(self, item: StageInput) -> None:
        self.item = item
        self._tmp: Path | None = None

    def __enter__(self) -> list[Path]:
        """The frames, in order.

        :raises FfmpegError: when the video cannot be decoded or has no video stream.
        :raises FfmpegTimeout: when decoding runs past its deadline.
        """
        if self.item.kind == "frames":
            return sorted(self.item.path.glob("*.png"))
        self._tmp = Path(tempfile.mkdtemp(prefix="tower-frames-"))
        try:
            return decode_frames(self.item.path, self._tmp)
        except BaseException:
            # A with-block whose __enter__ raises never calls __exit__: clean up here.
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    def __exit__(self, *exc: object) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def decode_frames(video: Path, folder: Path) -> list[Path]:
    """Every frame of `video`'s first video stream as numbered PNGs in `folder`.

    :raises FfmpegError: when the file cannot be decoded or holds no video frame (through
        run_ffmpeg: a classified stage error, not a CalledProcessError traceback).
    :raises FfmpegTimeout: when decoding runs past its deadline.
    """
    run_ffmpeg(["-v", "error", "-i", video, "-map", "0:v:0", folder / "%05d.png"], timeout_s=300)
    frames = sorted(folder.glob("*.png"))
    if not frames:
        raise FfmpegError(f"{video.name}: no video frame could be decoded")
    return frames


def store_outputs(
    spec: StageSpec, outcome: PromptOutcome, client: ComfyClient, store: LocalStore
) -> list[Artifact]:
    """Download every promised output into the store under the stage's key, durable on disk
    (synced together, at the end) before the stage can be recorded.

    :raises StageOutputMissing: an output node produced no file, or an empty or unreadable one.
    """
    artifacts = []
    written: list[Path] = []
    for output in spec.template.outputs:
        files = [f for f in outcome.files if f.node_id == output.node and f.type == "output"]
        if not files:
            raise StageOutputMissing(
                f"prompt {spec.prompt_id} succeeded without output {output.name!r} "
                f"(node {output.node})"
            )
        key = f"{spec.output_key}/{output.name.split('/')[0]}"
        if output.kind == "frames":
            artifacts.append(store_frames(files, key, client, store, written))
        else:
            artifacts.append(store_file(files[0], output.kind, key, client, store, written))
    make_durable(written)
    return artifacts


def store_file(
    file: OutputFile,
    kind: str,
    key: str,
    client: ComfyClient,
    store: LocalStore,
    written: list[Path],
) -> Artifact:
    """One file (added to `written`, not yet synced): the server's name only supplies the
    extension, never the path.

    :raises StageOutputMissing: the file is empty or not a readable image or video (the real
        video node reports success when its encoder wrote nothing).
    """
    suffix = Path(file.filename).suffix.lower()
    if not suffix[1:].isalnum():
        suffix = ".bin"
    key = f"{key}{suffix}"
    dest = client.download(file, store.path(key), durable=False)
    written.append(dest)
    if dest.stat().st_size == 0:
        raise StageOutputMissing(f"output {file.filename!r} (node {file.node_id}) is empty")
    try:
        return Artifact(kind=kind, key=key, facts=media_facts(dest, kind))
    except (OSError, PermanentError) as exc:  # PIL's and the demuxer's "cannot read this"
        raise StageOutputMissing(
            f"output {file.filename!r} (node {file.node_id}) is not a readable {kind}: {exc}"
        ) from exc


def store_frames(
    files: list[OutputFile],
    key: str,
    client: ComfyClient,
    store: LocalStore,
    written: list[Path],
) -> Artifact:
    """A folder of frames, renumbered in the server's order (added to `written`)."""
    ordered = sorted(files, key=lambda f: f.filename)
    destined = [(file, store.path(f"{key}/{index:05d}.png")) for index, file in enumerate(ordered)]
    written.extend(
        transfer_all(lambda pair: client.download(pair[0], pair[1], durable=False), destined)
    )
    folder = store.path(key)
    first = sorted(folder.glob("*.png"))[0]
    with Image.open(first) as image:
        width, height = image.size
    size = sum(p.stat().st_size for p in folder.glob("*.png"))
    return Artifact(
        kind="frames",
        key=key,
        facts={
            "width": width,
            "height": height,
            "frames": len(ordered),
            "size_bytes": size,
            "mime_type": "inode/directory",
        },
    )


def media_facts(path: Path, kind: str) -> dict[str, Any]:
    """The facts an Asset row records about a stored file."""
    if kind == "image":
        with Image.open(path) as image:
            width, height = image.size
        return {
            "width": width,
            "height": height,
            "frames": 1,
            "size_bytes": path.stat().st_size,
            "sha256": sha256_of(path),
            "mime_type": "image/png",
        }
    try:
        # Reading the MP4's own tables takes microseconds; demuxing reads every packet.
        track = read_video_track(path)
    except ContainerError:
        facts = probe_media(path)
        return {
            "width": facts.width,
            "height": facts.height,
            "frames": facts.frame_count,
            "fps": facts.fps,
            "duration_s": facts.duration_s,
            "size_bytes": facts.size_bytes,
            "sha256": facts.sha256,
            "mime_type": "video/mp4",
        }
    fps = (
        track.timescale / track.frame_ticks
        if track.frame_ticks
        else (track.frame_count / track.duration_s if track.duration_s else None)
    )
    return {
        "width": track.width,
        "height": track.height,
        "frames": track.frame_count,
        "fps": fps,
        "duration_s": track.duration_s,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_of(path),
        "mime_type": "video/mp4",
    }
