"""Shapes of what the episode stages store beside their files: placements, QC, loudness."""

from __future__ import annotations

from marshmallow import Schema, fields


class PlacementSchema(Schema):
    """Where one scene (or card) landed in the compiled episode."""

    kind = fields.String(required=True)
    index = fields.Integer(required=True)
    start_s = fields.Float(required=True)
    end_s = fields.Float(required=True)
    head_s = fields.Float(required=True, metadata={"description": "transition overlap in"})
    tail_s = fields.Float(required=True, metadata={"description": "transition overlap out"})
    frames = fields.Integer(required=True)


class QcCheckSchema(Schema):
    """One QC check's verdict; a failure says what and where."""

    name = fields.String(required=True)
    passed = fields.Boolean(required=True)
    message = fields.String(required=True)
    scene_index = fields.Integer(allow_none=True)
    at_s = fields.Float(allow_none=True)


class QcReportSchema(Schema):
    """The compiled episode's QC: duration, scenes in order, black or frozen stretches, format."""

    passed = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(QcCheckSchema), required=True)


class LoudnessSchema(Schema):
    """The mixed episode's loudness as measured on the output (EBU R128)."""

    integrated_lufs = fields.Float(allow_none=True)
    true_peak_db = fields.Float(allow_none=True)
    lra = fields.Float(allow_none=True)
    gain_db = fields.Float(allow_none=True)


class EpisodeMetaFields(Schema):
    """Mixed into asset and output shapes: present only on the compile and mix outputs."""

    placements = fields.List(fields.Nested(PlacementSchema))
    qc = fields.Nested(QcReportSchema)
    loudness = fields.Nested(LoudnessSchema)
