"""Which models the farm has (checkpoints, LoRAs, motion modules, interpolation) and where."""

from __future__ import annotations

from marshmallow import Schema, fields

from web import model_files
from web.identity import STAFF, requires
from web.openapi import Blueprint
from web.routes.fleet import NodeSchema

blp = Blueprint("models", __name__, description="Model files on the GPU nodes")


class ModelSchema(Schema):
    """One model file and the online nodes that have it."""

    name = fields.String(required=True)
    nodes = fields.List(fields.String(), required=True)


class ModelListSchema(Schema):
    """Every model some online node has, by kind (a model a node failed to load is left out)."""

    checkpoints = fields.List(fields.Nested(ModelSchema), required=True)
    loras = fields.List(fields.Nested(ModelSchema), required=True)
    motion_modules = fields.List(fields.Nested(ModelSchema), required=True)
    interpolation = fields.List(fields.Nested(ModelSchema), required=True)


class NodeModelsSchema(Schema):
    """A node's own models, by kind."""

    checkpoints = fields.List(fields.String(), required=True)
    loras = fields.List(fields.String(), required=True)
    motion_modules = fields.List(fields.String(), required=True)
    interpolation = fields.List(fields.String(), required=True)


class NodeDetailSchema(NodeSchema):
    """A GPU node and the models it has (less those it is known to lack)."""

    models = fields.Nested(NodeModelsSchema, required=True)


@blp.route("/api/anime/models", methods=["GET"])
@requires()
@blp.response(200, ModelListSchema)
def list_models():
    """The checkpoints, LoRAs, motion modules and interpolation models of the online nodes."""
    return model_files.list_models()


@blp.route("/api/fleet/nodes/<string:name>", methods=["GET"])
@requires(*STAFF)
@blp.response(200, NodeDetailSchema)
def get_node(name):
    """One GPU node with its models."""
    return model_files.describe_node_models(name)
