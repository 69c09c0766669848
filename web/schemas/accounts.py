"""Logins, accounts, API tokens and guest mode."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.models import Role
from web.credentials import MIN_PASSWORD_LENGTH
from web.schemas.common import StrictSchema, Text, page_schema

ROLES = [r.value for r in Role]


class LoginSchema(StrictSchema):
    """POST /auth/login; `session: true` also sets the dashboard's session cookie."""

    email = Text(required=True, min_length=1, max_length=254)
    password = Text(required=True, min_length=1, max_length=1024)
    session = fields.Boolean(load_default=False)


class LoginResultSchema(Schema):
    """A bearer access token (and, for a session login, the CSRF token for writes)."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True)
    csrf_token = fields.String(allow_none=True)


class UserSchema(Schema):
    """An account as clients see it (never its password hash)."""

    id = fields.Integer(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    last_login_at = fields.DateTime(required=True, allow_none=True)


class UserCreateSchema(StrictSchema):
    """POST /api/users (admins)."""

    email = Text(required=True, max_length=254, validate=[validate.Email()])
    password = Text(required=True, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role = fields.String(load_default=Role.USER.value, validate=validate.OneOf(ROLES))


class UserUpdateSchema(StrictSchema):
    """PATCH /api/users/{id} (admins): role, activation or a new password."""

    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = fields.Boolean()
    password = Text(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class ApiTokenCreateSchema(StrictSchema):
    """POST /auth/tokens."""

    name = Text(required=True, min_length=1, max_length=200)
    expires_in_days = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=3650)
    )


class ApiTokenSchema(Schema):
    """A long-lived API token's metadata (the secret is shown only at creation)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True, allow_none=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)


class ApiTokenCreatedSchema(ApiTokenSchema):
    """A new API token including its secret, returned once."""

    token = fields.String(required=True)


class GuestStatusSchema(Schema):
    """What a guest may do here and how much of it is left, and what anyone may read."""

    mode = fields.String(required=True)
    allowed_kinds = fields.List(fields.String(), required=True)
    jobs_per_hour = fields.Integer(required=True)
    jobs_left = fields.Integer(required=True, allow_none=True)
    is_guest = fields.Boolean(required=True)
    public_read = fields.Boolean(
        required=True,
        metadata={"description": "callers without an account may read public projects"},
    )


UserPageSchema = page_schema(UserSchema, "UserPage")
