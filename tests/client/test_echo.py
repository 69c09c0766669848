"""`tower echo ...` and the client's Echo Brain methods against gunicorn (gevent workers, as in
production) configured for a real OpenAI-compatible server process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tower_client import TowerClient
from tower_client.errors import ApiError

from shared.config import Settings
from shared.db import db
from tests.client.cli_runner import call_tower
from tests.support.llm_server import LlmServer, start_llm_server
from tests.support.web_server import start_gunicorn

EMAIL, PASSWORD = "echo-user@example.com", "echo-user-password"


@pytest.fixture(scope="module")
def llm() -> Iterator[LlmServer]:
    """The scripted LLM server."""
    server = start_llm_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web(settings: Settings, app, llm, log_dir: Path) -> Iterator[str]:
    """gunicorn on this session's database with Echo Brain pointed at the scripted server."""
    from web.accounts import create_user

    with app.app_context():
        create_user(EMAIL, PASSWORD, "user")
        db.session.commit()
    given = {"llm_base_url": llm.url, "llm_model": "test-model", "llm_timeout_s": 5.0}
    env = settings.with_overrides(setting_defaults=given).as_environ()
    process, url = start_gunicorn(env, log_dir / "gunicorn-echo.log")
    try:
        yield url
    finally:
        process.stop()
        # Only this module's rows: the package's live farm shares the database.
        with app.app_context():
            owner = {"email": EMAIL}
            owned = "SELECT id FROM users WHERE email = :email"
            db.session.execute(sa.text(f"DELETE FROM projects WHERE owner_id IN ({owned})"), owner)
            db.session.execute(sa.text("DELETE FROM users WHERE email = :email"), owner)
            db.session.commit()


@pytest.fixture(scope="module")
def production(web: str, tmp_path_factory) -> dict:
    """A logged-in config, and a project with a character and a one-scene episode."""
    config = tmp_path_factory.mktemp("echo") / "cli.json"
    with TowerClient(web) as client:
        client.login(EMAIL, PASSWORD)
        project = client.create_project("Neon", style="neon noir")
        aki = client.create_character(project["id"], "Aki", description="a quiet courier")
        episode = client.create_episode(project["id"], 1, "Pilot")
        scene = client.create_scene(episode["id"], 0, "Aki on a rooftop", 3.0)
        config.write_text(json.dumps({"url": web, "token": client.token}))
    return {"config": config, "project": project, "aki": aki, "episode": episode, "scene": scene}


def test_scenes_suggested_and_accepted_from_the_command_line(capsys, llm, production):
    scene = {"prompt": "Aki runs through rain", "characters": ["Aki"], "duration_s": 2,
             "mood": "action", "transition": "cut"}  # fmt: skip
    llm.script({"content": json.dumps({"scenes": [scene]})})
    episode_id = str(production["episode"]["id"])
    result = call_tower(capsys, "echo", "scenes", episode_id, "--count", "1", "--accept",
                        config=production["config"])  # fmt: skip
    assert result.code == 0, result
    assert "Aki runs through rain" in result.stdout and "accepted suggestion" in result.stdout
    listed = call_tower(capsys, "echo", "suggestions", str(production["project"]["id"]),
                        config=production["config"])  # fmt: skip
    assert "scenes" in listed.stdout and "yes" in listed.stdout


def test_dialogue_through_the_client_under_gevent_and_its_deadline(llm, production):
    line = {"speaker": "Aki", "text": "Hold on.", "at_s": 0.5}
    llm.script({"content": json.dumps({"lines": [line]})})
    token = json.loads(production["config"].read_text())["token"]
    with TowerClient(json.loads(production["config"].read_text())["url"], token=token) as client:
        suggestion = client.suggest_dialogue(production["scene"]["id"], max_lines=1)
        client.accept_suggestion(suggestion["id"])
        lines = client.call("GET", f"/api/anime/scenes/{production['scene']['id']}")["dialogue"]
        assert lines == [{"character_id": production["aki"]["id"], "text": "Hold on.",
                          "at_s": 0.5}]  # fmt: skip
        llm.script({"content": json.dumps({"lines": [line]}) * 40, "piece": 4, "trickle_s": 0.3})
        with pytest.raises(ApiError) as caught:
            client.suggest_dialogue(production["scene"]["id"])
        assert caught.value.status == 504


def test_enhance_from_the_command_line(capsys, llm, production):
    llm.script({"content": json.dumps({"prompt": "Aki, neon noir, masterpiece",
                                       "negative_prompt": "blurry"})})  # fmt: skip
    result = call_tower(capsys, "echo", "enhance", "Aki", "--project",
                        str(production["project"]["id"]), config=production["config"])  # fmt: skip
    assert result.code == 0 and "neon noir, masterpiece" in result.stdout, result
