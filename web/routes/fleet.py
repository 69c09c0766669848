"""Operators' fleet API: GPU nodes, drain and undrain, and the Celery queues."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.models import NodeStatus
from web import fleet
from web.identity import STAFF, requires
from web.openapi import Blueprint

blp = Blueprint("fleet", __name__, url_prefix="/api/fleet", description="GPU nodes and queues")


class CurrentStageSchema(Schema):
    """The stage run a node is running now."""

    stage_id = fields.Integer(required=True)
    job_id = fields.Integer(required=True)
    scene_id = fields.Integer(allow_none=True)
    scene_order = fields.Integer(allow_none=True)
    stage = fields.String(required=True)
    attempt = fields.Integer(required=True)
    progress = fields.Float(required=True)


class NodeSchema(Schema):
    """A GPU worker node and its ComfyUI backend."""

    name = fields.String(required=True)
    hostname = fields.String(required=True)
    status = fields.String(required=True)
    queues = fields.List(fields.String(), required=True)
    comfyui_url = fields.String(required=True)
    gpu_name = fields.String(required=True)
    vram_total = fields.Integer(required=True)
    vram_used = fields.Integer(required=True)
    vram_free = fields.Integer(required=True)
    last_checkpoint = fields.String(allow_none=True)
    lacking_models = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={
            "description": "models the node lists but failed to load (folder -> names); "
            "routing avoids it for them until cleared"
        },
    )
    last_heartbeat = fields.DateTime(allow_none=True)
    current_stage = fields.Nested(CurrentStageSchema, allow_none=True)
    comfyui_queue = fields.Integer(allow_none=True)


class QueueSchema(Schema):
    """One Celery queue: messages waiting, and tasks from it running now."""

    name = fields.String(required=True)
    length = fields.Integer(required=True)
    running = fields.Integer(required=True)


class WorkerCountSchema(Schema):
    """One Celery worker's running and reserved (prefetched) tasks."""

    name = fields.String(required=True)
    running = fields.Integer(required=True)
    reserved = fields.Integer(required=True)


class QueueOverviewSchema(Schema):
    """Every queue and worker, totals, and where Flower is (when configured)."""

    queues = fields.List(fields.Nested(QueueSchema), required=True)
    workers = fields.List(fields.Nested(WorkerCountSchema), required=True)
    running = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    flower_url = fields.String(allow_none=True)


@blp.route("/nodes", methods=["GET"])
@requires(*STAFF)
@blp.response(200, NodeSchema(many=True))
def get_nodes():
    """Every GPU node: status, GPU and VRAM, current stage, ComfyUI queue, last heartbeat."""
    return fleet.list_nodes()


@blp.route("/nodes/<string:name>/drain", methods=["POST"])
@requires(*STAFF)
@blp.response(200, NodeSchema)
def drain_node(name):
    """Drain a node: it finishes what it runs and takes no new stage."""
    return fleet.set_node_status(name, NodeStatus.DRAINING)


@blp.route("/nodes/<string:name>/undrain", methods=["POST"])
@requires(*STAFF)
@blp.response(200, NodeSchema)
def undrain_node(name):
    """Bring a drained node back: it takes new stages again."""
    return fleet.set_node_status(name, NodeStatus.ONLINE)


@blp.route("/nodes/<string:name>", methods=["DELETE"])
@requires(*STAFF)
@blp.response(204)
def delete_node(name):
    """Remove an offline node (409 while it is online or draining)."""
    fleet.remove_node(name)


@blp.route("/nodes/<string:name>/clear-missing", methods=["POST"])
@requires(*STAFF)
@blp.response(200, NodeSchema)
def clear_missing_models(name):
    """Forget the models a node was found to lack (after installing them there)."""
    return fleet.clear_lacking_models(name)


@blp.route("/queues", methods=["GET"])
@requires(*STAFF)
@blp.response(200, QueueOverviewSchema)
def get_queues():
    """Length of each Celery queue and the running and reserved task counts."""
    return fleet.describe_queues()
