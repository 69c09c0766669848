"""Command line: parse options, bind the port, print it on the first stdout line, serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from comfy_emulator.faults import FaultSpecError, parse_faults
from comfy_emulator.inventory import InventoryError, load_inventory
from comfy_emulator.server import build_emulator, create_app, start_worker
from comfy_emulator.storage import Storage

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The emulator's options."""
    parser = argparse.ArgumentParser(prog="comfy_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8188, help="0 picks a free port")
    parser.add_argument(
        "--step-seconds", type=float, default=0.05, help="simulated seconds per sampling step"
    )
    parser.add_argument(
        "--models", type=Path, default=None, help="JSON object: model folder -> list of file names"
    )
    parser.add_argument("--fault", default=None, help="fault SPEC (see package docstring)")
    parser.add_argument(
        "--model-load-seconds",
        type=float,
        default=0.0,
        help="seconds a prompt waits when its checkpoint or motion module is not the loaded one",
    )
    parser.add_argument(
        "--without-classes",
        default="",
        help="comma-separated node classes not loaded (a node pack that failed to import)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder holding input/, output/, temp/ (default: a temp dir)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until killed; returns an exit code on bad options."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        faults = parse_faults(args.fault)
        inventory = load_inventory(args.models)
    except (FaultSpecError, InventoryError, OSError, ValueError) as exc:
        sys.stderr.write(f"comfy_emulator: {exc}\n")
        return 2
    root = args.root or Path(tempfile.mkdtemp(prefix="comfy-emulator-"))
    storage = Storage(root)
    # Like the real server, temp is wiped at start.
    shutil.rmtree(storage.dirs["temp"], ignore_errors=True)
    Path(storage.dirs["temp"]).mkdir(parents=True, exist_ok=True)
    without = frozenset(name.strip() for name in args.without_classes.split(",") if name.strip())
    emulator = build_emulator(
        storage, inventory, faults, args.step_seconds, args.model_load_seconds, without
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    # Listen before printing the port: early clients wait in the backlog, never get refused.
    sock.listen(128)
    port = sock.getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    log.info("emulator listening host=%s port=%s root=%s", args.host, port, root)
    start_worker(emulator)
    app = create_app(emulator)
    asyncio.run(_serve(app, sock))
    return 0


async def _serve(app: web.Application, sock: socket.socket) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    await asyncio.Event().wait()
