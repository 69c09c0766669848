"""Farm settings and their audit, as admins read and change them."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.settings_catalog import KINDS
from web.schemas.common import PageQuerySchema, StrictSchema, Text, page_schema


class SettingSchema(Schema):
    """A setting: its value in effect (a secret's never), default, bounds and meaning."""

    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    value = fields.Raw(required=True, allow_none=True, metadata={"description": "null for secrets"})
    default = fields.Raw(required=True, allow_none=True)
    is_default = fields.Boolean(required=True)
    is_set = fields.Boolean(required=True, metadata={"description": "the value is not empty"})
    secret = fields.Boolean(required=True)
    description = fields.String(required=True)
    min = fields.Float(required=True, allow_none=True)
    max = fields.Float(required=True, allow_none=True)
    choices = fields.List(fields.Raw(), required=True)
    variable = fields.String(required=True, metadata={"description": "sets the default"})
    updated_at = fields.DateTime(required=True, allow_none=True)
    updated_by = fields.Integer(required=True, allow_none=True)


class SettingListSchema(Schema):
    """Every setting."""

    items = fields.List(fields.Nested(SettingSchema), required=True)


class SettingWriteSchema(StrictSchema):
    """PUT/PATCH /api/settings/{name}: the new value, of the setting's kind."""

    value = fields.Raw(required=True, allow_none=False)


class SettingChangeSchema(Schema):
    """One audited change (a secret's values shown as "<redacted>" or "")."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    old_value = fields.Raw(required=True, allow_none=True)
    new_value = fields.Raw(required=True, allow_none=True)
    actor = fields.String(required=True)
    actor_id = fields.Integer(required=True, allow_none=True)
    changed_at = fields.DateTime(required=True)


class AuditQuerySchema(PageQuerySchema):
    """GET /api/settings/audit: newest first, optionally one setting's."""

    name = Text(max_length=100, load_default=None)


SettingChangePageSchema = page_schema(SettingChangeSchema, "SettingChangePage")
