"""The audio library over the API: list, upload, replace and delete, each file checked first,
under the audio routes' own size limit while every other route keeps the JSON body limit."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.models import LibraryEntry
from workers.media.tool import run_ffmpeg

ENTRIES = "/api/anime/library/entries"
FORM = "multipart/form-data"


def sine(path: Path, seconds: float, *, rate: int = 48000, codec: str = "pcm_s16le") -> Path:
    """A sine tone file written by ffmpeg."""
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=f=440:d={seconds}:r={rate}", "-c:a", codec, path])
    return path


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    """Files to upload: a 4 s loop, a 0.5 s effect, an 8 kHz tone, a 70 s effect, junk."""
    root = tmp_path_factory.mktemp("audio")
    junk = root / "junk.mp3"
    junk.write_bytes(b"ID3 not really audio " * 400)
    return {
        "loop": sine(root / "loop.wav", 4.0),
        "loop_flac": sine(root / "loop2.flac", 3.0, codec="flac"),
        "hit": sine(root / "hit.wav", 0.5),
        "thunder": sine(root / "thunder.wav", 1.5),
        "low": sine(root / "low.wav", 2.0, rate=8000),
        "long_sfx": sine(root / "long.wav", 70.0, rate=22050),
        "junk": junk,
    }


@pytest.fixture
def limit(app) -> Iterator[None]:
    """Restore the audio upload limit a test changes."""
    saved = app.config["TOWER_AUDIO_UPLOAD_MAX_BYTES"]
    yield
    app.config["TOWER_AUDIO_UPLOAD_MAX_BYTES"] = saved


def upload(api, path: Path, method: str = "POST", url: str = ENTRIES, **form):
    """Send `path` as the `file` of a multipart form with `form`'s fields."""
    data = {k: str(v) for k, v in form.items()}
    data["file"] = (io.BytesIO(path.read_bytes()), path.name)
    return api.request(method, url, data=data, content_type=FORM)


def test_upload_list_replace_and_delete(as_role, app, audio, db_session) -> None:
    api = as_role("operator")
    made = upload(
        api, audio["loop"], kind="music", name="Rain loop", tags="Calm, rainy",
        loop_start_s=1.0, loop_end_s=3.5,
    )  # fmt: skip
    assert made.status_code == 201, made.get_json()
    entry = made.get_json()
    assert entry["kind"] == "music" and entry["name"] == "Rain loop"
    assert entry["tags"] == ["calm", "rainy"] and entry["sample_rate"] == 48000
    assert entry["duration_s"] == pytest.approx(4.0, abs=0.05)
    assert (entry["loop_start_s"], entry["loop_end_s"]) == (1.0, 3.5)
    row = db_session.get(LibraryEntry, entry["id"])
    stored = app.config["SETTINGS"].artifact_root / row.uri
    assert stored.is_file() and row.uri.endswith(".wav")
    hit = upload(api, audio["hit"], kind="sfx", tags="impact")
    assert hit.status_code == 201 and hit.get_json()["name"] == "hit"

    reader = as_role("guest")
    assert [e["name"] for e in reader.get(ENTRIES).get_json()] == ["Rain loop", "hit"]
    assert [e["name"] for e in reader.get(f"{ENTRIES}?kind=sfx").get_json()] == ["hit"]
    assert reader.get("/api/anime/library/moods").get_json()["moods"] == ["calm", "rainy"]
    taken = upload(api, audio["hit"], kind="sfx", name="hit")
    assert taken.status_code == 409 and taken.get_json()["fields"] == {"name": "already taken"}

    replaced = upload(api, audio["loop_flac"], "PUT", f"{ENTRIES}/{entry['id']}")
    assert replaced.status_code == 200, replaced.get_json()
    body = replaced.get_json()
    assert body["tags"] == ["calm", "rainy"] and body["loop_start_s"] is None
    assert body["duration_s"] == pytest.approx(3.0, abs=0.05)
    db_session.expire_all()
    assert db_session.get(LibraryEntry, entry["id"]).uri.endswith(".flac")
    assert not stored.exists()  # the old .wav went with the replacement

    assert api.delete(f"{ENTRIES}/{entry['id']}").status_code == 204
    assert reader.get(f"{ENTRIES}/{entry['id']}").status_code == 404
    assert reader.get("/api/anime/library/moods").get_json()["moods"] == []


@pytest.mark.parametrize(
    ("name", "form", "field", "text"),
    [
        ("junk", {"kind": "music"}, "file", "not decodable audio"),
        ("low", {"kind": "music"}, "file", "8000 Hz"),
        ("long_sfx", {"kind": "sfx"}, "file", "a sfx entry lasts 0.05 to 60 s"),
        ("loop", {"kind": "music", "loop_start_s": 1, "loop_end_s": 9}, "loop_end_s", "<= 4"),
        ("loop", {"kind": "music", "loop_start_s": 1}, "loop_end_s", "give both"),
        ("hit", {"kind": "sfx", "loop_start_s": 0, "loop_end_s": 0.2}, "loop_start_s", "music"),
        ("hit", {"kind": "speech"}, "kind", "Must be one of"),
    ],
)
def test_a_refused_file_stores_nothing(as_role, app, audio, db_session, name, form, field, text):
    reply = upload(as_role("admin"), audio[name], **form)
    assert reply.status_code == 422, reply.get_json()
    assert text in str(reply.get_json()["fields"][field]), reply.get_json()
    assert db_session.query(LibraryEntry).count() == 0
    folder = app.config["SETTINGS"].artifact_root / "library"
    assert not folder.exists() or not any(folder.rglob("upload*"))


def test_only_staff_write_and_the_form_must_carry_a_file(as_role, audio) -> None:
    assert upload(as_role("owner"), audio["hit"], kind="sfx").status_code == 403
    assert upload(as_role(None), audio["hit"], kind="sfx").status_code == 401
    api = as_role("operator")
    missing = api.request("POST", ENTRIES, data={"kind": "sfx"}, content_type=FORM)
    assert missing.status_code == 422 and "file" in missing.get_json()["fields"]
    as_json = api.post(ENTRIES, json={"kind": "sfx"})
    assert as_json.status_code == 415


def test_audio_routes_have_their_own_limit_and_the_rest_keep_2_mib(
    as_role, app, audio, client, limit
) -> None:
    api = as_role("operator")
    size = audio["loop"].stat().st_size
    assert size > 2 * 1024 * 1024 // 8  # a 4 s 48 kHz stereo WAV: ~384 KB
    big = audio["long_sfx"]  # ~3 MB: over the API's 2 MiB body limit, under 200 MiB
    reply = upload(api, big, kind="music")
    assert reply.status_code == 201, reply.get_json()

    app.config["TOWER_AUDIO_UPLOAD_MAX_BYTES"] = 100_000
    declared = upload(api, audio["loop"], kind="music", name="too big")
    assert declared.status_code == 413
    assert declared.get_json()["error"] == "request_entity_too_large"
    # A body of no declared length (chunked, the server terminating the stream) is counted.
    body, content_type = multipart(audio["loop"], kind="music", name="chunked")
    streamed = client.post(
        ENTRIES,
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Authorization": f"Bearer {api.token}"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert streamed.status_code == 413, streamed.get_json()

    scene = {"order": 9, "prompt": "x" * 10, "duration_s": 1.0, "negative_prompt": "y" * 3_000_000}
    assert api.post("/api/anime/episodes/1/scenes", json=scene).status_code == 413
    form = {"file": (io.BytesIO(b"x"), "x.wav")}
    other = api.request("POST", "/api/anime/projects", data=form, content_type=FORM)
    assert other.status_code == 400


def multipart(path: Path, **fields: str) -> tuple[bytes, str]:
    """A multipart body carrying `path` as `file` plus `fields`, and its content type."""
    boundary = "towerboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body = b"".join(parts) + head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_replacement_keeps_the_entrys_kind(as_role, audio, db_session) -> None:
    api = as_role("operator")
    made = upload(api, audio["hit"], kind="sfx").get_json()
    changed = upload(api, audio["loop"], "PUT", f"{ENTRIES}/{made['id']}", kind="music")
    assert changed.status_code == 422 and changed.get_json()["fields"] == {"kind": "cannot change"}
    missing = upload(api, audio["hit"], "PUT", f"{ENTRIES}/999999")
    assert missing.status_code == 404


def test_an_entry_named_by_a_too_long_file_name_is_refused_naming_name(as_role, audio, db_session):
    # Past 200 characters Postgres refused the row, and the 422 named no field.
    api = as_role("admin")
    form = {"kind": "sfx", "file": (io.BytesIO(audio["hit"].read_bytes()), "h" * 201 + ".wav")}
    reply = api.request("POST", ENTRIES, data=form, content_type=FORM)
    assert reply.status_code == 422, reply.get_json()
    assert "201 characters" in reply.get_json()["fields"]["name"]
    assert db_session.query(LibraryEntry).count() == 0
    form = {"kind": "sfx", "name": "hit", "file": (io.BytesIO(audio["hit"].read_bytes()),
            "h" * 201 + ".wav")}  # fmt: skip
    named = api.request("POST", ENTRIES, data=form, content_type=FORM)
    assert named.status_code == 201, named.get_json()


def test_names_alike_once_slugged_keep_their_own_files(as_role, app, audio, db_session) -> None:
    # Files were stored under a slug of the name: "Rain loop" and "rain-loop" (or any two
    # names without ASCII letters, both "entry") shared one file, so the second upload
    # overwrote the first's audio and deleting either removed the other's.
    api = as_role("operator")
    uploads = {
        "Rain loop": ("music", audio["loop"]),
        "rain-loop": ("music", audio["long_sfx"]),
        "雨": ("sfx", audio["hit"]),
        "雷": ("sfx", audio["thunder"]),
    }
    for name, (kind, path) in uploads.items():
        reply = upload(api, path, kind=kind, name=name)
        assert reply.status_code == 201, reply.get_json()
    root = app.config["SETTINGS"].artifact_root
    rows = {row.name: row for row in db_session.query(LibraryEntry)}
    for name, (_, path) in uploads.items():
        assert (root / rows[name].uri).read_bytes() == path.read_bytes(), name

    assert api.delete(f"{ENTRIES}/{rows['rain-loop'].id}").status_code == 204
    assert api.delete(f"{ENTRIES}/{rows['雨'].id}").status_code == 204
    assert (root / rows["Rain loop"].uri).is_file(), "deleting rain-loop took Rain loop's file"
    assert (root / rows["雷"].uri).is_file(), "deleting one entry took another's file"


def test_a_replacement_renamed_onto_a_taken_name_with_spaces_names_the_field(
    as_role, audio, db_session
) -> None:
    # The name was checked as sent but stored stripped: " hit " passed the check and broke
    # the unique constraint, a 409 naming no field.
    api = as_role("operator")
    upload(api, audio["hit"], kind="sfx", name="hit")
    other = upload(api, audio["thunder"], kind="sfx", name="thunder").get_json()
    renamed = upload(api, audio["thunder"], "PUT", f"{ENTRIES}/{other['id']}", name=" hit ")
    assert renamed.status_code == 409, renamed.get_json()
    assert renamed.get_json()["fields"] == {"name": "taken"}
    spaced = upload(api, audio["thunder"], "PUT", f"{ENTRIES}/{other['id']}", name=" storm ")
    assert spaced.status_code == 200 and spaced.get_json()["name"] == "storm"


def test_a_field_given_twice_is_refused_naming_it(as_role, audio, db_session) -> None:
    """Only the first value would be read: refused, not dropped without a word (`tags` may
    repeat)."""
    api = as_role("operator")
    twice_named = {"kind": "sfx", "name": ["hit", "thunder"], "tags": ["a", "b"],
                   "file": (io.BytesIO(audio["hit"].read_bytes()), "hit.wav")}  # fmt: skip
    two_files = {"kind": "sfx", "file": [(io.BytesIO(audio[n].read_bytes()), f"{n}.wav")
                                         for n in ("hit", "thunder")]}  # fmt: skip
    for form, field in ((twice_named, "name"), (two_files, "file")):
        reply = api.request("POST", ENTRIES, data=form, content_type=FORM)
        assert reply.status_code == 422, reply.get_json()
        assert list(reply.get_json()["fields"]) == [field]
    assert db_session.query(LibraryEntry).count() == 0
    tagged = {"kind": "sfx", "tags": ["impact", "short"],
              "file": (io.BytesIO(audio["hit"].read_bytes()), "hit.wav")}  # fmt: skip
    made = api.request("POST", ENTRIES, data=tagged, content_type=FORM)
    assert made.status_code == 201 and made.get_json()["tags"] == ["impact", "short"]
