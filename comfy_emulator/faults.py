"""Fault injection specs, shared by --fault and a prompt's extra_data.emulator_fault.

See the package docstring for the syntax.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class FaultSpecError(ValueError):
    """A fault spec could not be parsed."""


@dataclass
class Faults:
    """The faults in force for one prompt."""

    error_classes: set[str] = field(default_factory=set)
    oom_classes: set[str] = field(default_factory=set)
    crash_step: int | None = None
    drop_step: int | None = None
    slow_seconds: float = 0.0

    def merged(self, other: Faults) -> Faults:
        """Union of two fault sets (server-wide plus per-prompt)."""
        return Faults(
            self.error_classes | other.error_classes,
            self.oom_classes | other.oom_classes,
            _first(other.crash_step, self.crash_step),
            _first(other.drop_step, self.drop_step),
            max(self.slow_seconds, other.slow_seconds),
        )


def _first(a: int | None, b: int | None) -> int | None:
    return a if a is not None else b


def parse_faults(spec: str | None) -> Faults:
    """Parse 'error:KSampler,crash:step=3,drop:step=2,slow:2.5,oom:KSampler'.

    :raises FaultSpecError: on an unknown kind or a malformed value.
    """
    faults = Faults()
    if not spec:
        return faults
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        kind, _, arg = part.partition(":")
        kind = kind.strip().lower()
        arg = arg.strip()
        if kind in ("error", "oom"):
            if not arg:
                raise FaultSpecError(f"{kind} needs a node class: {part!r}")
            (faults.error_classes if kind == "error" else faults.oom_classes).add(arg)
        elif kind in ("crash", "drop"):
            step = _parse_step(arg, part)
            if kind == "crash":
                faults.crash_step = step
            else:
                faults.drop_step = step
        elif kind == "slow":
            try:
                faults.slow_seconds = float(arg)
            except ValueError as exc:
                raise FaultSpecError(f"slow needs seconds: {part!r}") from exc
        else:
            raise FaultSpecError(f"unknown fault kind {kind!r} in {part!r}")
    return faults


def _parse_step(arg: str, part: str) -> int:
    if not arg:
        return 1
    key, _, value = arg.partition("=")
    if key.strip() != "step" or not value.strip().isdigit():
        raise FaultSpecError(f"expected step=N in {part!r}")
    return max(1, int(value))


def spend_budgets(spec: str | None, fired: Counter) -> str:
    """Drop the items of `spec` whose budget (``item*N``: at most N prompts on this server)
    is spent, count the rest, and return the spec without the budgets."""
    kept = []
    for part in (p.strip() for p in str(spec or "").split(",")):
        item, star, budget = part.partition("*")
        if not item:
            continue
        if star:
            if not budget.strip().isdigit():
                raise FaultSpecError(f"expected item*N in {part!r}")
            if fired[part] >= int(budget):
                continue
            fired[part] += 1
        kept.append(item)
    return ",".join(kept)
