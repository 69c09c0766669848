"""Stream tokens for a job's Server-Sent Events."""

from __future__ import annotations

from marshmallow import Schema, fields


class StreamTokenSchema(Schema):
    """A short-lived token for one job's event stream."""

    token = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds it is valid"})
    events_url = fields.String(
        required=True,
        metadata={"description": "The job's events URL with the token: new EventSource(url)"},
    )
