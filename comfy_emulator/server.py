"""The aiohttp application: ComfyUI 0.3.64's HTTP routes (also under /api) and /ws."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from comfy_emulator.catalog import Catalog
from comfy_emulator.executor import Executor
from comfy_emulator.faults import Faults
from comfy_emulator.hub import SERVER_FEATURES, Hub
from comfy_emulator.inventory import list_folders
from comfy_emulator.model_loads import LoadedModels
from comfy_emulator.nodes import NODE_CLASSES
from comfy_emulator.prompt_queue import PromptQueue
from comfy_emulator.storage import Storage
from comfy_emulator.uploads import save_upload
from comfy_emulator.validation import ValidationContext, validate_prompt
from comfy_emulator.views import system_stats_body, view_file
from comfy_emulator.worker import PromptWorker, Stats

log = logging.getLogger(__name__)
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Emulator:
    """Everything one emulated server owns."""

    storage: Storage
    catalog: Catalog
    hub: Hub
    queue: PromptQueue
    executor: Executor
    stats: Stats
    validation: ValidationContext
    inventory: dict[str, list[str]]
    faults: Faults
    number: int = 0

    def queue_info(self) -> dict[str, Any]:
        """{"exec_info": {"queue_remaining": n}}."""
        return {"exec_info": {"queue_remaining": self.queue.remaining()}}


def build_emulator(
    storage: Storage,
    inventory: dict,
    faults: Faults,
    step_seconds: float,
    model_load_seconds: float = 0.0,
    without_classes: frozenset[str] = frozenset(),
) -> Emulator:
    """Wire the parts together (no threads started, no sockets opened)."""
    catalog = Catalog(inventory, storage, without_classes)
    hub = Hub()
    emulator_ref: list[Emulator] = []
    queue = PromptQueue(lambda: hub.send("status", {"status": emulator_ref[0].queue_info()}, None))
    validators = {
        name: (
            spec.validate_inputs,
            spec.validate_kwargs,
            (lambda inputs, check=spec.validate: check(storage, inputs)),
        )
        for name, spec in NODE_CLASSES.items()
        if spec.validate is not None
    }
    emulator = Emulator(
        storage,
        catalog,
        hub,
        queue,
        Executor(catalog, storage, hub, step_seconds, LoadedModels(model_load_seconds)),
        Stats(),
        ValidationContext(catalog, validators),
        inventory,
        faults,
    )
    emulator_ref.append(emulator)
    return emulator


@web.middleware
async def origin_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """403 when a loopback server gets a foreign Origin (the real anti-CSRF check)."""
    host, origin = request.headers.get("Host"), request.headers.get("Origin")
    if host and origin:
        host_domain = host.lower()
        origin_domain = urllib.parse.urlparse(origin).netloc.lower()
        hostname = urllib.parse.urlsplit("//" + host_domain).hostname
        if hostname in LOOPBACK and host_domain != origin_domain:
            return web.Response(status=403)
    if request.method == "OPTIONS":
        return web.Response()
    return await handler(request)


def create_app(emu: Emulator) -> web.Application:
    """The aiohttp application with every route under / and /api."""
    routes = web.RouteTableDef()

    @routes.get("/ws")
    async def websocket(request: web.Request) -> web.StreamResponse:
        return await emu.hub.handle(request, emu.queue_info)

    @routes.post("/prompt")
    async def post_prompt(request: web.Request) -> web.Response:
        data = await request.json()  # non-JSON: aiohttp's plain 500, as on the real server
        if "number" in data:
            number: Any = float(data["number"])
        else:
            number = emu.number
            if data.get("front"):
                number = -number
            emu.number += 1
        if "prompt" not in data:
            error = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        prompt = data["prompt"]
        prompt_id = str(data.get("prompt_id", uuid.uuid4()))
        valid = validate_prompt(emu.validation, prompt, data.get("partial_execution_targets"))
        extra_data = data.get("extra_data", {})
        if "client_id" in data:
            extra_data["client_id"] = data["client_id"]
        if not valid[0]:
            emu.stats.count(prompt_id, "rejected")
            return web.json_response({"error": valid[1], "node_errors": valid[3]}, status=400)
        emu.stats.count(prompt_id, "submitted")
        emu.queue.put([number, prompt_id, prompt, extra_data, valid[2]])
        return web.json_response(
            {"prompt_id": prompt_id, "number": number, "node_errors": valid[3]}
        )

    @routes.get("/prompt")
    async def get_prompt(request: web.Request) -> web.Response:
        return web.json_response(emu.queue_info())

    @routes.get("/queue")
    async def get_queue(request: web.Request) -> web.Response:
        running, pending = emu.queue.snapshot()
        return web.json_response({"queue_running": running, "queue_pending": pending})

    @routes.post("/queue")
    async def post_queue(request: web.Request) -> web.Response:
        data = await request.json()
        if data.get("clear"):
            emu.queue.wipe()
        for prompt_id in data.get("delete", []) or []:
            emu.queue.delete_pending(prompt_id)
        return web.Response(status=200)

    @routes.post("/interrupt")
    async def post_interrupt(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = {}
        # Not an object: AttributeError, aiohttp's plain 500, as the real server answers.
        prompt_id = data.get("prompt_id")
        if not prompt_id or prompt_id in emu.queue.running_ids():
            emu.executor.interrupt.set()
        else:
            log.info("prompt %s is not currently running, skipping interrupt", prompt_id)
        return web.Response(status=200)

    @routes.get("/history")
    async def get_history(request: web.Request) -> web.Response:
        query = request.rel_url.query
        max_items = int(query["max_items"]) if "max_items" in query else None
        offset = int(query.get("offset", -1))
        return web.json_response(emu.queue.get_history(max_items=max_items, offset=offset))

    @routes.get("/history/{prompt_id}")
    async def get_history_one(request: web.Request) -> web.Response:
        return web.json_response(emu.queue.get_history(request.match_info["prompt_id"]))

    @routes.post("/history")
    async def post_history(request: web.Request) -> web.Response:
        data = await request.json()
        if data.get("clear"):
            emu.queue.wipe_history()
        for prompt_id in data.get("delete", []) or []:
            emu.queue.delete_history(prompt_id)
        return web.Response(status=200)

    @routes.get("/view")
    async def view(request: web.Request) -> web.StreamResponse:
        return view_file(emu.storage, request.rel_url.query)

    @routes.post("/upload/image")
    async def upload_image(request: web.Request) -> web.Response:
        return await save_upload(emu.storage, request)

    @routes.get("/object_info")
    async def object_info(request: web.Request) -> web.Response:
        return web.json_response({n: emu.catalog.info(n) for n in emu.catalog.class_names()})

    @routes.get("/object_info/{node_class}")
    async def object_info_one(request: web.Request) -> web.Response:
        name = request.match_info["node_class"]
        out = {name: emu.catalog.info(name)} if emu.catalog.has_class(name) else {}
        return web.json_response(out)

    @routes.get("/system_stats")
    async def system_stats(request: web.Request) -> web.Response:
        return web.json_response(system_stats_body())

    @routes.get("/embeddings")
    async def embeddings(request: web.Request) -> web.Response:
        return web.json_response(list(emu.inventory.get("embeddings", [])))

    @routes.get("/extensions")
    async def extensions(request: web.Request) -> web.Response:
        return web.json_response([])

    @routes.get("/features")
    async def features(request: web.Request) -> web.Response:
        return web.json_response(SERVER_FEATURES)

    @routes.get("/models")
    async def models(request: web.Request) -> web.Response:
        return web.json_response(list_folders(emu.inventory))

    @routes.get("/models/{folder}")
    async def models_folder(request: web.Request) -> web.Response:
        folder = request.match_info["folder"]
        if folder not in list_folders(emu.inventory):
            return web.Response(status=404)
        return web.json_response(list(emu.inventory.get(folder, [])))

    @routes.post("/free")
    async def free(request: web.Request) -> web.Response:
        data = await request.json()
        if data.get("free_memory"):
            emu.executor.cache.clear()
        return web.Response(status=200)

    @routes.get("/emulator/stats")
    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "prompts": emu.stats.snapshot(),
                "queue_remaining": emu.queue.remaining(),
                "models": emu.executor.models.snapshot(),
            }
        )

    app = web.Application(middlewares=[origin_guard], client_max_size=104857600)
    api_routes = web.RouteTableDef()
    for route in routes:
        api_routes.route(route.method, "/api" + route.path)(route.handler)
    app.add_routes(routes)
    app.add_routes(api_routes)

    async def start_background(app: web.Application) -> None:
        emu.hub.bind(asyncio.get_running_loop())
        app["publisher"] = asyncio.create_task(emu.hub.publish())

    app.on_startup.append(start_background)
    return app


def start_worker(emu: Emulator) -> PromptWorker:
    """Start the prompt worker thread."""
    worker = PromptWorker(emu.queue, emu.executor, emu.hub, emu.faults, emu.stats)
    worker.start()
    return worker
