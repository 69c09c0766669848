"""Which models the farm has, per node; characters whose LoRA no node has get a warning."""

from __future__ import annotations

import pytest

from tests import factories
from tests.web.test_dashboard import log_in

MODELS_A = {
    "checkpoints": ["anime.safetensors", "real.safetensors"],
    "loras": ["aki.safetensors", "ren.safetensors"],
    "animatediff_models": ["mm_sd15_v3.safetensors"],
    "rife": ["rife47.pth"],
    "vae": ["x.vae"],
}


@pytest.fixture
def nodes(db_session, world):
    """gpu-a (lacks real.safetensors), gpu-b (online), gpu-c (offline), gpu-d (draining)."""
    factories.make_worker_node(
        db_session,
        name="gpu-a",
        models=MODELS_A,
        lacking_models={"checkpoints": ["real.safetensors"]},
    )
    factories.make_worker_node(
        db_session,
        name="gpu-b",
        models={"checkpoints": ["anime.safetensors"], "loras": ["aki.safetensors"], "film": ["f"]},
    )
    factories.make_worker_node(
        db_session, name="gpu-c", status="offline", models={"loras": ["kage.safetensors"]}
    )
    factories.make_worker_node(
        db_session, name="gpu-d", status="draining", models={"loras": ["kage.safetensors"]}
    )
    db_session.commit()


def test_models_of_the_online_nodes_with_their_nodes(as_role, nodes) -> None:
    body = as_role("owner").get("/api/anime/models").get_json()
    assert body == {
        "checkpoints": [{"name": "anime.safetensors", "nodes": ["gpu-a", "gpu-b"]}],
        "loras": [
            {"name": "aki.safetensors", "nodes": ["gpu-a", "gpu-b"]},
            {"name": "ren.safetensors", "nodes": ["gpu-a"]},
        ],
        "motion_modules": [{"name": "mm_sd15_v3.safetensors", "nodes": ["gpu-a"]}],
        "interpolation": [
            {"name": "f", "nodes": ["gpu-b"]},
            {"name": "rife47.pth", "nodes": ["gpu-a"]},
        ],
    }
    assert as_role(None).get("/api/anime/models").status_code == 401


def test_a_node_detail_lists_its_own_models(as_role, nodes) -> None:
    reply = as_role("operator").get("/api/fleet/nodes/gpu-a")
    assert reply.status_code == 200, reply.get_json()
    node = reply.get_json()
    assert node["name"] == "gpu-a" and node["status"] == "online"
    assert node["models"] == {
        "checkpoints": ["anime.safetensors"],
        "loras": ["aki.safetensors", "ren.safetensors"],
        "motion_modules": ["mm_sd15_v3.safetensors"],
        "interpolation": ["rife47.pth"],
    }
    assert node["lacking_models"] == {"checkpoints": ["real.safetensors"]}
    assert as_role("operator").get("/api/fleet/nodes/nope").status_code == 404
    assert as_role("owner").get("/api/fleet/nodes/gpu-a").status_code == 403


def test_a_character_whose_lora_no_node_has_is_saved_with_a_warning(
    as_role, world, nodes, client
) -> None:
    api = as_role("owner")
    project = world.rows["project"]
    made = api.post(
        f"/api/anime/projects/{project.id}/characters",
        json={"name": "Kage", "lora_name": "kage.safetensors"},
    )
    assert made.status_code == 201, made.get_json()
    (warning,) = made.get_json()["warnings"]
    assert "no online node has the LoRA 'kage.safetensors'" in warning
    kage = made.get_json()["id"]
    fixed = api.patch(f"/api/anime/characters/{kage}", json={"lora_name": "ren.safetensors"})
    assert fixed.status_code == 200 and fixed.get_json()["warnings"] == []
    broken = api.patch(f"/api/anime/characters/{kage}", json={"lora_name": "gone.safetensors"})
    assert broken.status_code == 200 and len(broken.get_json()["warnings"]) == 1
    assert api.get(f"/api/anime/characters/{kage}").get_json()["lora_name"] == "gone.safetensors"

    log_in(client, world.users["operator"])
    page = client.get("/dashboard/models").get_data(as_text=True)
    assert f'data-character-id="{kage}"' in page and "gone.safetensors" in page
    assert "rife47.pth" in page and "gpu-a, gpu-b" in page
