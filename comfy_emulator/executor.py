"""Runs one prompt like PromptExecutor.execute_async: ordering, caching, messages, errors."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any

from comfy_emulator.cache import CacheEntry, OutputCache
from comfy_emulator.catalog import Catalog
from comfy_emulator.checks import is_link
from comfy_emulator.context import NodeContext, RunState
from comfy_emulator.errors import (
    OOM_TIPS,
    EmulatedError,
    InterruptProcessing,
    injected_failure,
    injected_oom,
)
from comfy_emulator.faults import Faults
from comfy_emulator.graph import ExecutionList
from comfy_emulator.hub import Hub
from comfy_emulator.model_loads import LoadedModels
from comfy_emulator.nodes import NODE_CLASSES, node_class
from comfy_emulator.progress import ProgressTracker
from comfy_emulator.storage import Storage

log = logging.getLogger(__name__)


class Executor:
    """Executes prompts one at a time; keeps the output cache between them."""

    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        hub: Hub,
        step_seconds: float,
        models: LoadedModels | None = None,
    ) -> None:
        self.catalog = catalog
        self.models = models or LoadedModels(0.0)
        self.storage = storage
        self.hub = hub
        self.step_seconds = step_seconds
        self.cache = OutputCache()
        self.interrupt = threading.Event()
        self.status_messages: list[list[Any]] = []
        self.success = False

    def add_message(self, event: str, data: dict[str, Any], broadcast: bool) -> None:
        """Record a status message (with timestamp) and send it to the client."""
        data = {**data, "timestamp": int(time.time() * 1000)}
        self.status_messages.append([event, data])
        if self.hub.client_id is not None or broadcast:
            self.hub.send(event, data, self.hub.client_id)

    def execute(
        self, prompt: dict, prompt_id: str, extra_data: dict, outputs: list[str], faults: Faults
    ) -> dict[str, Any]:
        """Run a prompt; returns the history result {"outputs", "meta"}."""
        self.interrupt.clear()
        self.hub.client_id = extra_data.get("client_id")
        self.status_messages = []
        if faults.slow_seconds > 0:
            time.sleep(faults.slow_seconds)
        self.add_message("execution_start", {"prompt_id": prompt_id}, broadcast=False)
        self.models.load_for(prompt, self.interrupt)
        tracker = ProgressTracker(self.hub, prompt_id)
        run = RunState(self.hub, tracker, faults, self.interrupt)
        self.cache.set_prompt(prompt, lambda nid: self._is_changed(prompt, nid))
        cached = [nid for nid in prompt if self.cache.get(nid) is not None]
        self.add_message(
            "execution_cached", {"nodes": cached, "prompt_id": prompt_id}, broadcast=False
        )
        current_outputs = self.cache.node_ids()
        ui_outputs: dict[str, dict[str, Any]] = {}
        plan = ExecutionList(prompt, self.catalog, lambda nid: self.cache.get(nid) is not None)
        for output in outputs:
            plan.add_node(output)
        self.success = True
        while not plan.is_empty():
            node_id = plan.stage_next()
            error = self._execute_node(prompt, prompt_id, extra_data, node_id, run, ui_outputs)
            if error is not None:
                self.success = False
                self._report_error(prompt, prompt_id, current_outputs, run, *error)
                break
            plan.complete(node_id)
        else:
            self.add_message("execution_success", {"prompt_id": prompt_id}, broadcast=False)
        self.hub.last_node_id = None
        return {
            "outputs": {nid: ui["output"] for nid, ui in ui_outputs.items()},
            "meta": {nid: ui["meta"] for nid, ui in ui_outputs.items()},
        }

    def _is_changed(self, prompt: dict, node_id: str) -> Any:
        node = prompt[node_id]
        spec = NODE_CLASSES.get(node.get("class_type"))
        if spec is None or spec.is_changed is None:
            return False
        value = spec.is_changed(self.storage, node.get("inputs", {}))
        # The real IsChangedCache stores the result in the running prompt's node, so nodes
        # that embed the prompt (VHS_VideoCombine, SaveImage) write it; history keeps a copy.
        node["is_changed"] = [value]
        return value

    def _execute_node(
        self,
        prompt: dict,
        prompt_id: str,
        extra_data: dict,
        node_id: str,
        run: RunState,
        ui_outputs: dict,
    ) -> tuple[str, dict[str, Any], BaseException] | None:
        class_type = prompt[node_id]["class_type"]
        client_id = self.hub.client_id
        hit = self.cache.get(node_id)
        if hit is not None:
            if client_id is not None:
                output = hit.ui.get("output") if hit.ui else None
                self.hub.send(
                    "executed",
                    {
                        "node": node_id,
                        "display_node": node_id,
                        "output": output,
                        "prompt_id": prompt_id,
                    },
                    client_id,
                )
                if hit.ui is not None:
                    ui_outputs[node_id] = hit.ui
            run.tracker.finish(node_id)
            return None
        run.tracker.start(node_id)
        if client_id is not None:
            self.hub.last_node_id = node_id
            self.hub.send(
                "executing",
                {"node": node_id, "display_node": node_id, "prompt_id": prompt_id},
                client_id,
            )
        inputs: dict[str, Any] = {}
        try:
            inputs = self._gather_inputs(prompt, node_id, extra_data)
            ctx = NodeContext(
                node_id,
                class_type,
                prompt_id,
                self.storage,
                self.step_seconds,
                prompt,
                extra_data,
                run,
                self.catalog,
            )
            ctx.check_interrupt()
            if class_type in run.faults.error_classes:
                raise injected_failure(class_type)
            if class_type in run.faults.oom_classes:
                raise injected_oom()
            outputs, ui = node_class(class_type).run(ctx, inputs)
        except Exception as exc:  # noqa: BLE001 - every node failure becomes execution_error
            return node_id, self._error_details(exc, inputs), exc
        entry_ui = None
        if ui:
            meta = {
                "node_id": node_id,
                "display_node": node_id,
                "parent_node": None,
                "real_node_id": node_id,
            }
            entry_ui = {"output": ui, "meta": meta}
            ui_outputs[node_id] = entry_ui
            if client_id is not None:
                self.hub.send(
                    "executed",
                    {
                        "node": node_id,
                        "display_node": node_id,
                        "output": ui,
                        "prompt_id": prompt_id,
                    },
                    client_id,
                )
        self.cache.put(node_id, CacheEntry(tuple(outputs), entry_ui))
        run.executed.append(node_id)
        run.tracker.finish(node_id)
        return None

    def _gather_inputs(self, prompt: dict, node_id: str, extra_data: dict) -> dict[str, Any]:
        node = prompt[node_id]
        declared = self.catalog.declared_inputs(node["class_type"])
        extra_ok = node_class(node["class_type"]).accepts_extra_inputs
        out: dict[str, Any] = {}
        for name, value in node["inputs"].items():
            if name not in declared and not extra_ok:
                continue
            if is_link(value):
                entry = self.cache.get(value[0])
                out[name] = None if entry is None else entry.outputs[int(value[1])]
            else:
                out[name] = value
        for name in self.catalog.hidden_inputs(node["class_type"]):
            if name == "prompt":
                out[name] = prompt
            elif name == "extra_pnginfo":
                out[name] = extra_data.get("extra_pnginfo")
            elif name == "unique_id":
                out[name] = node_id
        return out

    def _error_details(self, exc: BaseException, inputs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(exc, EmulatedError):
            type_name = exc.type_name
        else:
            module = type(exc).__module__
            type_name = type(exc).__qualname__
            if module != "builtins":
                type_name = f"{module}.{type_name}"
        tips = OOM_TIPS if type_name == "torch.OutOfMemoryError" else ""
        if not isinstance(exc, InterruptProcessing):
            log.error("!!! Exception during processing !!! %s", exc)
        return {
            "exception_message": f"{exc}\n{tips}",
            "exception_type": type_name,
            "traceback": traceback.format_tb(exc.__traceback__),
            "current_inputs": {k: [_format_value(v)] for k, v in inputs.items()},
        }

    def _report_error(
        self,
        prompt: dict,
        prompt_id: str,
        current_outputs: list[str],
        run: RunState,
        node_id: str,
        details: dict[str, Any],
        exc: BaseException,
    ) -> None:
        message = {
            "prompt_id": prompt_id,
            "node_id": node_id,
            "node_type": prompt[node_id]["class_type"],
            "executed": list(run.executed),
        }
        if isinstance(exc, InterruptProcessing):
            self.add_message("execution_interrupted", message, broadcast=True)
            return
        message.update(details)
        message["current_outputs"] = list(current_outputs)
        self.add_message("execution_error", message, broadcast=False)


def _format_value(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"tensor(shape={tuple(shape)})"
    return str(value)
