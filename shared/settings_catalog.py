"""Farm settings: every setting operators may change at run time, declared once.

A declaration names the setting, its type, default, bounds, whether it is secret, and the
environment variable that replaces its default (read by `shared.config`). The store
(`shared.settings_store`) keeps changed values in Postgres; everything else reads them through
`get_setting(name)`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

KINDS = ("int", "float", "bool", "text", "list")
# The shipped upload allowlist is data beside the workflow templates; the setting starts there.
SHIPPED_ALLOWLIST = (
    Path(__file__).resolve().parent.parent / "workers" / "workflows" / "data" / "allowlist.json"
)


def origin_problem(item: str) -> str | None:
    """Why `item` is not a browser origin (scheme://host[:port], nothing after), or None."""
    parts = urlsplit(item)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "has a malformed port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an origin such as https://studio.example"
    if parts.path or parts.query or parts.fragment or parts.username or item.endswith("/"):
        return "must be an origin only (scheme, host and port; no path or trailing slash)"
    return None


def node_class_problem(item: str) -> str | None:
    """Why `item` is not a ComfyUI node class name, or None."""
    if not 0 < len(item) <= 200 or not item.isprintable() or item != item.strip():
        return "must be a node class name (1-200 printable characters, no outer spaces)"
    return None


ITEM_CHECKS = {"origin": origin_problem, "node_class": node_class_problem}


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its type, default, bounds and meaning."""

    name: str
    kind: str  # one of KINDS
    default: Any  # or a function giving it (read when first needed, not at import)
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    max_length: int = 500
    item: str = ""  # list settings: what each item must be (a key of ITEM_CHECKS)
    max_items: int = 1000
    secret: bool = False
    env: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS or (self.kind == "list") != (self.item in ITEM_CHECKS):
            raise ValueError(f"setting {self.name}: unknown kind {self.kind!r} or list item")

    @property
    def initial(self) -> Any:
        """The declared default (lists as lists, as JSON has them)."""
        value = self.default() if callable(self.default) else self.default
        return list(value) if self.kind == "list" else value

    @property
    def variable(self) -> str:
        """The environment variable that replaces the default."""
        return self.env or f"TOWER_{self.name.upper()}"

    def problem(self, value: Any) -> str | None:
        """Why `value` is not a valid value of this setting, or None."""
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind in ("int", "float"):
            problem = self._number_problem(value)
        elif self.kind == "text":
            problem = self._text_problem(value)
        else:
            return self._list_problem(value)
        if problem is None and self.choices and value not in self.choices:
            return f"must be one of {', '.join(str(c) for c in self.choices)}"
        return problem

    def _text_problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or len(value) > self.max_length or not value.isprintable():
            return f"must be printable text of at most {self.max_length} characters"
        return None

    def _number_problem(self, value: Any) -> str | None:
        number = (int, float) if self.kind == "float" else int
        # Only a float can be NaN or infinite; math.isfinite overflows on integers past its range.
        infinite = isinstance(value, float) and not math.isfinite(value)
        if isinstance(value, bool) or not isinstance(value, number) or infinite:
            return "must be a number" if self.kind == "float" else "must be an integer"
        if self.low is not None and not self.low <= value <= self.high:
            return f"must be between {self.low:g} and {self.high:g}"
        return None

    def _list_problem(self, value: Any) -> str | None:
        if not isinstance(value, list) or len(value) > self.max_items:
            return f"must be a list of at most {self.max_items} items"
        check = ITEM_CHECKS[self.item]
        for index, item in enumerate(value):
            problem = check(item) if isinstance(item, str) else "must be text"
            if problem:
                return f"item {index} ({item!r}) {problem}"
        if len(set(value)) != len(value):
            return "lists an item twice"
        return None

    def parse(self, text: str) -> Any:
        """The value an environment variable's text stands for (lists: comma-separated).

        :raises ValueError: naming what is wrong.
        """
        text = text.strip()
        if self.kind == "bool":
            value: Any = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
        elif self.kind == "int":
            value = int(text) if text.lstrip("-").isdigit() else None
        elif self.kind == "float":
            value = _float(text)
        elif self.kind == "list":
            value = [part.strip() for part in text.split(",") if part.strip()]
        else:
            value = text
        problem = "is malformed" if value is None else self.problem(value)
        if problem and self.secret:
            raise ValueError(f"{self.variable} {problem}")
        if problem:
            raise ValueError(f"{self.variable} {problem}, not {text!r}")
        return value

    def render(self, value: Any) -> str:
        """`value` as the environment variable's text (the inverse of `parse`)."""
        if self.kind == "list":
            return ",".join(value)
        if self.kind == "bool":
            return "true" if value else "false"
        return f"{value:g}" if self.kind == "float" else str(value)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def shipped_allowlist() -> tuple[str, ...]:
    """The node classes of the shipped allowlist document."""
    return tuple(json.loads(SHIPPED_ALLOWLIST.read_text(encoding="utf-8"))["classes"])


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("render_default_steps", "int", 20, "sampling steps when a job names none",
                    low=1, high=150),
        SettingSpec("render_default_multiplier", "int", 2,
                    "RIFE frame-rate multiplier when a job names none", choices=(2, 4)),
        SettingSpec("render_default_engine", "text", "animatediff",
                    "animation engine when a job names none", choices=("animatediff", "svd")),
        SettingSpec("render_max_frames", "int", 64, "most frames an animate clip may ask for",
                    low=2, high=64),
        SettingSpec("render_max_size", "int", 2048,
                    "largest width or height a job may ask for, in pixels", low=64, high=2048),
        SettingSpec("scene_max_s", "float", 60.0, "longest scene, in seconds", low=0.1, high=3600),
        SettingSpec("active_jobs_per_user", "int", 20,
                    "jobs a user or guest may have queued or running at once (staff: no cap)",
                    low=1, high=100000),
        SettingSpec("user_max_priority", "int", 5,
                    "highest priority a user or guest may ask for (above it: staff only)",
                    low=0, high=9),
        SettingSpec("guest_mode", "text", "images",
                    "what guest accounts may submit: off (guests locked out) or images",
                    choices=("off", "images")),
        SettingSpec("guest_jobs_per_hour", "int", 5, "jobs a guest may submit or retry per hour",
                    low=0, high=100000),
        SettingSpec("public_read", "bool", True,
                    "callers without an account may read public projects and their episodes"),
        SettingSpec("login_free_failures", "int", 5,
                    "wrong passwords a client may send for one account before it must wait",
                    low=1, high=1000),
        SettingSpec("login_addr_free_failures", "int", 50,
                    "wrong passwords one address may send in all before it must wait",
                    low=1, high=100000),
        SettingSpec("login_first_delay_s", "float", 1.0,
                    "the first wait after the free failures (it doubles with each failure)",
                    low=0.1, high=3600),
        SettingSpec("login_max_delay_s", "float", 60.0, "the longest wait between logins",
                    low=1, high=86400),
        SettingSpec("login_forget_s", "int", 900,
                    "seconds after which a client's failed logins are forgotten",
                    low=60, high=7 * 86400),
        SettingSpec("cors_origins", "list", (),
                    "browser origins that may call the API with credentials (CORS)",
                    item="origin", max_items=100),
        SettingSpec("workflow_node_allowlist", "list", shipped_allowlist,
                    "node classes an uploaded workflow may use", item="node_class"),
        SettingSpec("node_wait_s", "float", 600.0,
                    "how long a GPU stage waits for a capable backend to come online",
                    low=1, high=7 * 86400, env="NODE_WAIT_S"),
        SettingSpec("node_refresh_s", "float", 60.0,
                    "how often a GPU worker reads again what its ComfyUI offers (node classes, "
                    "models); it also does after its ComfyUI stopped answering",
                    low=5, high=86400),
        SettingSpec("stage_lease_s", "float", 15.0,
                    "how long a running stage's lease lasts unrenewed (its worker renews it every "
                    "third of that); a stage whose worker or node died moves on after it",
                    low=3, high=600),
        SettingSpec("lost_message_grace_s", "float", 15.0,
                    "how long a ready stage may have no message in the broker before the "
                    "sweeper sends it again (e.g. after Redis restarted empty)",
                    low=3, high=3600),
        SettingSpec("superseded_output_days", "int", 30,
                    "days the outputs of a replaced attempt (a retake's earlier take, a retried "
                    "stage's failed try) are kept before the hourly clean-up removes them; 0 "
                    "keeps them for ever",
                    low=0, high=3650),
        SettingSpec("llm_base_url", "text", "",
                    "the creative assistant's OpenAI-compatible server (e.g. http://HOST:11434/v1)"),
        SettingSpec("llm_model", "text", "", "the chat model the creative assistant asks"),
        SettingSpec("route_by_checkpoint", "bool", True,
                    "send a GPU stage to a backend that has its checkpoint loaded"),
        SettingSpec("llm_api_key", "text", "", "API key of the LLM the creative assistant uses",
                    secret=True),
        SettingSpec("llm_timeout_s", "float", 60.0,
                    "deadline of one creative-assistant answer, retries included",
                    low=1, high=600),
        SettingSpec("llm_retries", "int", 2,
                    "retries of an LLM call that failed in passing (with backoff)", low=0, high=10),
        SettingSpec("llm_concurrency", "int", 4, "LLM calls in flight at once across the farm",
                    low=1, high=1000),
        SettingSpec("tts_base_url", "text", "",
                    "an OpenAI-compatible speech server for dialogue (empty: espeak-ng)"),
        SettingSpec("tts_model", "text", "", "the speech model of tts_base_url (e.g. tts-1)"),
        SettingSpec("tts_api_key", "text", "", "API key of the speech server", secret=True),
    )
}  # fmt: skip
