"""Query parameters read by hand (outside the API's schemas, which refuse the same): each given
once, and of its kind, or a 422 naming it."""

from __future__ import annotations

from collections.abc import Collection

from flask import request

from shared.errors import ValidationError
from web.schemas.common import MAX_ID

REPEATED = "given more than once; give it once"


def one_arg(name: str) -> str | None:
    """The parameter's value, None when absent.

    :raises ValidationError: naming it when given more than once (the first was silently
        taken, whichever the caller meant).
    """
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationError(f"{name} is given more than once", fields={name: REPEATED})
    return values[0] if values else None


def id_arg(name: str) -> int | None:
    """The parameter as a row id, None when absent or empty.

    :raises ValidationError: naming it when repeated or not an id.
    """
    value = one_arg(name)
    if not value:
        return None
    # ASCII digits only: str.isdigit() also passes "²", which int() refuses; and no longer
    # than an id can be (int() refuses past 4,300 digits).
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID))
    if not digits or not 1 <= int(value) <= MAX_ID:
        raise ValidationError(f"{name} must be an id", fields={name: "not an id"})
    return int(value)


def choice_arg(name: str, choices: Collection[str]) -> str | None:
    """The parameter as one of `choices`, None when absent or empty.

    :raises ValidationError: naming it when repeated or not one of them.
    """
    value = one_arg(name)
    if not value:
        return None
    if value not in choices:
        raise ValidationError(
            f"{name} must be one of {', '.join(choices)}", fields={name: "not one of the choices"}
        )
    return value
