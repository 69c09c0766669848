"""`python -m workers.progress_sink`: run the progress sink until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading

import redis

from shared.app import create_base_app
from shared.config import load_settings
from shared.errors import ConfigError
from workers.progress_sink.sink import ProgressSink


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: consumer name and write rate."""
    parser = argparse.ArgumentParser(prog="python -m workers.progress_sink")
    parser.add_argument(
        "--consumer",
        default=f"sink-{socket.gethostname()}",
        help="consumer name in the group; keep it stable across restarts",
    )
    parser.add_argument(
        "--min-interval",
        type=float,
        default=0.25,
        help="seconds between two writes of the same job's rows",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the sink in an app context; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = load_settings()
        app = create_base_app(settings, name="progress-sink")
    except ConfigError as exc:
        sys.stderr.write(f"progress sink: {exc.message}\n")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # The socket timeout must outlast the blocking XREADGROUP.
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=10, socket_connect_timeout=2, health_check_interval=30
    )
    sink = ProgressSink(client, consumer=args.consumer, min_interval_s=args.min_interval)
    with app.app_context():
        sink.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
