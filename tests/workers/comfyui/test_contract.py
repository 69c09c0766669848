"""Contract tests: every recorded ComfyUI transcript replayed through the client's parsers."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import PermanentError, TransientError
from tests.workers.comfyui.transcript import (
    binary_bytes,
    fixtures_root,
    frames,
    prompt_ids,
    read_json,
    transcripts,
)
from workers.comfyui import (
    Cached,
    ComfyExecutionFailed,
    ComfyInterrupted,
    ComfyModelMissing,
    ComfyOutOfMemory,
    Done,
    Failed,
    Interrupted,
    NodeExecuting,
    NodeOutput,
    Started,
    StepProgress,
    Succeeded,
    is_transient,
    parse_binary,
    parse_message,
)
from workers.comfyui.events import CurrentNode, QueueStatus
from workers.comfyui.outcome import ErrorDetail, outcome_from_history

ROOT = fixtures_root()
TERMINAL = (Succeeded, Failed, Interrupted)


def replay(path: Path, prompt_id: str) -> list:
    """The prompt's events from a transcript (meta frames and binary frames left out)."""
    events = []
    for row in frames(path):
        if row["kind"] == "binary":
            assert parse_binary(binary_bytes(row)) is not None
        elif row["kind"] == "text":
            event = parse_message(row["msg"], prompt_id)
            if event is not None and not isinstance(event, QueueStatus | CurrentNode):
                events.append(event)
    return events


def history_entry(folder: str) -> tuple[str, dict]:
    """(prompt id, entry) of a scenario's recorded history."""
    body = read_json(ROOT / folder / "history.json")["body"]
    ((prompt_id, entry),) = body.items()
    return prompt_id, entry


def kinds(events: list) -> list[str]:
    """Event class names, for readable sequence assertions."""
    return [type(e).__name__ for e in events]


def test_fixtures_are_present():
    assert ROOT.is_dir(), f"fixtures not found at {ROOT}"
    assert len(transcripts()) >= 20


@pytest.mark.parametrize("path", transcripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_transcript_parses_to_a_well_formed_sequence(path: Path):
    for prompt_id in prompt_ids(path):
        events = replay(path, prompt_id)
        if any(isinstance(e, Done) for e in events):
            assert isinstance(events[-1], Done)
            assert sum(isinstance(e, Done) for e in events) == 1
            assert sum(isinstance(e, TERMINAL) for e in events) == 1
            assert isinstance(events[-2], TERMINAL)
            if path.name != "ws_second_socket.jsonl":  # that one joined mid-run
                assert isinstance(events[0], Started)
        last: dict[str, int] = {}
        for event in events:
            if isinstance(event, StepProgress):
                assert event.value >= last.get(event.node, -1)
                assert 0 <= event.value <= event.max
                last[event.node] = event.value


@pytest.mark.parametrize("path", transcripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_other_prompts_messages_are_ignored(path: Path):
    stranger = "00000000-0000-4000-8000-000000000000"
    assert replay(path, stranger) == []


def test_success_sequence_and_history():
    prompt_id, entry = history_entry("01_success")
    events = replay(ROOT / "01_success" / "ws.jsonl", prompt_id)
    assert kinds(events) == [
        "Started", "Cached", "NodeExecuting", "NodeExecuting", "NodeExecuting",
        "NodeOutput", "Succeeded", "Done",
    ]  # fmt: skip
    assert [e.node for e in events if isinstance(e, NodeExecuting)] == ["1", "2", "3"]
    output = next(e for e in events if isinstance(e, NodeOutput))
    assert [f.filename for f in output.files] == ["ok_00001_.png", "ok_00002_.png"]
    outcome = outcome_from_history(prompt_id, entry)
    assert outcome.status == "success" and outcome.raise_for_status() is outcome
    assert [(f.node_id, f.subfolder, f.type, f.kind) for f in outcome.files] == [
        ("3", "fixture", "output", "images")
    ] * 2


def test_cached_rerun_replays_old_files_without_executing():
    prompt_id, entry = history_entry("02_cached_rerun")
    events = replay(ROOT / "02_cached_rerun" / "ws.jsonl", prompt_id)
    assert kinds(events) == ["Started", "Cached", "NodeOutput", "Succeeded", "Done"]
    assert events[1] == Cached(("1", "2", "3"))
    assert [f.filename for f in events[2].files] == ["ok_00001_.png", "ok_00002_.png"]
    assert outcome_from_history(prompt_id, entry).status == "success"


def test_partial_cache_runs_only_the_changed_node():
    prompt_id, _ = history_entry("03_partial_cache")
    events = replay(ROOT / "03_partial_cache" / "ws.jsonl", prompt_id)
    assert events[1] == Cached(("1", "2"))
    assert [e.node for e in events if isinstance(e, NodeExecuting)] == ["3"]


@pytest.mark.parametrize(
    ("folder", "node_id", "node_type", "exception_type"),
    [
        ("06_execution_error_save_path", "3", "SaveImage", "Exception"),
        ("07_execution_error_corrupt_image", "1", "LoadImage", "PIL.UnidentifiedImageError"),
        (
            "17_stage_workflows/stage1_keyframe_t2i_lora",
            "1",
            "CheckpointLoaderSimple",
            "safetensors._safetensors_rust.SafetensorError",
        ),
        ("17_stage_workflows/stage3_rife_x2", "2", "RIFE VFI", "EOFError"),
        (
            "17_stage_workflows/stage4_svd_img2vid",
            "1",
            "ImageOnlyCheckpointLoader",
            "safetensors._safetensors_rust.SafetensorError",
        ),
    ],
)
def test_execution_errors_name_node_type_and_exception(folder, node_id, node_type, exception_type):
    prompt_id, entry = history_entry(folder)
    events = replay(ROOT / folder / "ws.jsonl", prompt_id)
    failed = next(e for e in events if isinstance(e, Failed))
    assert (failed.node_id, failed.node_type, failed.exception_type) == (
        node_id,
        node_type,
        exception_type,
    )
    assert failed.message and not failed.message.endswith("\n")
    assert not failed.out_of_memory
    assert not any(isinstance(e, Succeeded) for e in events)
    outcome = outcome_from_history(prompt_id, entry)
    assert outcome.status == "error"
    assert (outcome.error.node_id, outcome.error.node_type) == (node_id, node_type)
    with pytest.raises(ComfyExecutionFailed) as caught:
        outcome.raise_for_status()
    assert isinstance(caught.value, PermanentError) and not is_transient(caught.value)
    assert node_id in str(caught.value) and node_type in str(caught.value)
    assert caught.value.exception_type == exception_type


@pytest.mark.parametrize(
    ("folder", "missing"),
    [
        ("17_stage_workflows/stage1_keyframe_t2i_lora", ("checkpoints", "dummy_sd15.safetensors")),
        ("17_stage_workflows/stage3_rife_x2", ("rife", "rife47.pth")),
        ("17_stage_workflows/stage4_svd_img2vid", ("checkpoints", "svd/dummy_svd_xt.safetensors")),
        ("06_execution_error_save_path", None),
        ("07_execution_error_corrupt_image", None),
    ],
)
def test_a_listed_model_its_loader_cannot_read_is_missing_on_that_backend(folder, missing):
    # The recorded loaders read empty placeholder files: the server lists them, validation
    # passes, and the loader raises. Another backend's copy may be whole, so routing is told
    # which file; a saver's or an input's failure is the prompt's own, the same anywhere.
    prompt_id, entry = history_entry(folder)
    failed = next(e for e in replay(ROOT / folder / "ws.jsonl", prompt_id) if isinstance(e, Failed))
    for error in (outcome_from_history(prompt_id, entry).error, failed):
        detail = ErrorDetail(
            error.node_id, error.node_type, error.exception_type, error.message, error.model
        )
        assert detail.missing_model == missing
    with pytest.raises(ComfyExecutionFailed) as caught:
        outcome_from_history(prompt_id, entry).raise_for_status()
    assert isinstance(caught.value, ComfyModelMissing) == (missing is not None)
    if missing:
        assert caught.value.missing == (missing,)


def test_interrupted_prompt():
    prompt_id, entry = history_entry("08_interrupted")
    events = replay(ROOT / "08_interrupted" / "ws.jsonl", prompt_id)
    assert events[-2] == Interrupted("3") and isinstance(events[-1], Done)
    steps = [e.value for e in events if isinstance(e, StepProgress)]
    assert steps == sorted(steps) and steps[-1] < 60
    outcome = outcome_from_history(prompt_id, entry)
    assert (outcome.status, outcome.interrupted_node) == ("interrupted", "3")
    with pytest.raises(ComfyInterrupted):
        outcome.raise_for_status()


def test_out_of_memory_is_transient():
    _, entry = history_entry("07_execution_error_corrupt_image")
    name, data = entry["status"]["messages"][-1]
    data = dict(data, exception_type="torch.OutOfMemoryError")
    data["exception_message"] = "Allocation on device \nThis error means you ran out of memory\n"
    entry = dict(entry, status=dict(entry["status"], messages=[[name, data]]))
    with pytest.raises(ComfyOutOfMemory) as caught:
        outcome_from_history("x", entry).raise_for_status()
    assert isinstance(caught.value, TransientError) and is_transient(caught.value)


def test_video_outputs_are_files_under_images_and_gifs():
    _, entry = history_entry("11_video_outputs")
    outcome = outcome_from_history("x", entry)
    names = {f.filename: f for f in outcome.files}
    assert any(n.endswith(".mp4") for n in names) and any(n.endswith(".webm") for n in names)
    assert all(f.kind == "images" for f in outcome.files)
    assert {f.type for f in outcome.files} == {"output", "temp"}
    _, vhs = history_entry("18_vhs_video_combine_success")
    gifs = [f for f in outcome_from_history("y", vhs).files if f.kind == "gifs"]
    assert gifs and gifs[0].format and gifs[0].frame_rate and gifs[0].animated


def test_text_output_is_not_a_file():
    _, entry = history_entry("19_binary_progress_text_and_text_output")
    assert outcome_from_history("x", entry).files == []


def test_no_client_id_listener_gets_no_prompt_events():
    path = ROOT / "13_no_client_id" / "ws_listener_without_clientId.jsonl"
    prompt_id, _ = history_entry("13_no_client_id")
    assert replay(path, prompt_id) == []  # only status and progress_state: follow must poll


def test_reconnect_frame_without_prompt_id_is_a_hint_only():
    path = ROOT / "15_reconnect_same_client_id" / "ws_second_socket.jsonl"
    rows = [row["msg"] for row in frames(path) if row["kind"] == "text"]
    assert parse_message(rows[1], "any") == CurrentNode("1")
    assert isinstance(parse_message(rows[0], "any"), QueueStatus)


def test_binary_frames_parse_safely():
    for path in transcripts():
        for row in frames(path):
            if row["kind"] == "binary":
                parsed = parse_binary(binary_bytes(row))
                assert parsed.event_type == row["event_type"]
                if row["event_type"] == 3:
                    assert (parsed.node_id, parsed.text) == (row["node_id"], row["text"])
    assert parse_binary(b"\x00\x00") is None
    assert parse_binary(b"\x00\x00\x00\x04\x00\x00\x10\x00{}") is None


def test_malformed_frames_are_ignored():
    assert parse_message({"type": "progress", "data": "nope"}, "p") is None
    assert parse_message({"type": "weird", "data": {"prompt_id": "p"}}, "p") is None
    assert parse_message(["not", "a", "dict"], "p") is None
