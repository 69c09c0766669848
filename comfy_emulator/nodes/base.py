"""The shape of an emulated node class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# run(ctx, inputs) -> (outputs tuple, ui dict or None)
RunFn = Callable[[Any, dict[str, Any]], tuple[tuple, dict[str, Any] | None]]
# check(storage, inputs) -> True or an error string (VALIDATE_INPUTS)
CheckFn = Callable[[Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class NodeClass:
    """How to execute one class; its input/output declarations come from the catalog."""

    run: RunFn
    is_changed: Callable[[Any, dict[str, Any]], Any] | None = None
    validate_inputs: tuple[str, ...] = ()
    validate_kwargs: bool = False
    validate: CheckFn | None = None
    accepts_extra_inputs: bool = False
