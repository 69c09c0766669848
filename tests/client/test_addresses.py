"""Where the farm is, as people type it, and what the CLI says when the address is wrong: a
URL without a scheme works, a name that does not resolve says so, and whatever answers at a
wrong address is named as not a Tower farm, in one line, never a traceback."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.client.cli_runner import call_tower, run_tower


class WebPage(BaseHTTPRequestHandler):
    """A web server that is not Tower: an HTML page for a GET (404 under /api/fleet, where an
    older Tower would send the client to /health), 404 for every POST."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        if self.path.startswith("/api/fleet"):
            self.answer(404, b"<html><body>not found</body></html>")
        else:
            self.answer(200, b"<html><body>a router's admin page</body></html>")

    def do_POST(self) -> None:  # noqa: N802
        self.answer(404, b"<html><body>not found</body></html>")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def web_page() -> Iterator[str]:
    """host:port of a plain web server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), WebPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_raw(answer: bytes) -> Iterator[str]:
    """host:port of a service that reads a request and sends `answer` (maybe nothing) before
    it hangs up, as Redis or Postgres do when spoken HTTP to."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
def not_http() -> Iterator[str]:
    """A service that answers a line that is not HTTP."""
    yield from serve_raw(b"-ERR unknown command\r\n")


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A service that closes the connection without a word."""
    yield from serve_raw(b"")


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 1 and len(lines) == 1, result
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_url_without_a_scheme_is_http(capsys, live, config):
    bare = live.url.removeprefix("http://")
    result = call_tower(capsys, "jobs", config=config, url=bare)
    assert result.code == 0, result
    assert result.stdout.startswith("   JOB"), result


def test_a_name_that_does_not_resolve_says_so(capsys, tmp_path):
    result = call_tower(
        capsys, "--token", "x", "jobs", config=tmp_path / "c.json", url="nosuch.invalid:5000"
    )
    assert one_line(result) == "tower: cannot reach Tower: the name nosuch.invalid does not resolve"


@pytest.mark.parametrize(
    ("command", "status"), [(("jobs",), 200), (("status", "1"), 200), (("nodes",), 404)]
)
def test_a_web_server_that_is_not_tower_is_named_so(capsys, tmp_path, web_page, command, status):
    result = call_tower(capsys, "--token", "x", *command, config=tmp_path / "c.json", url=web_page)
    assert one_line(result) == (
        f"tower: http://{web_page} does not answer like a Tower farm (HTTP {status}, text/html)"
    )


def test_login_to_something_else_is_named_so(tmp_path, web_page, not_http):
    login = ("login", "--email", "a@example.com", "--password", "pw")
    html = run_tower("--url", web_page, *login, config=tmp_path / "c.json")
    assert one_line(html) == (
        f"tower: http://{web_page} does not answer like a Tower farm (HTTP 404, text/html)"
    )
    garbage = run_tower("--url", not_http, *login, config=tmp_path / "c.json")
    assert one_line(garbage) == (
        f"tower: http://{not_http} does not answer like a Tower farm (it does not speak HTTP)"
    )
    assert not (tmp_path / "c.json").exists()


def test_a_service_that_hangs_up_is_not_a_tower_farm(capsys, tmp_path, hangs_up):
    result = call_tower(capsys, "--token", "x", "jobs", config=tmp_path / "c.json", url=hangs_up)
    assert one_line(result) == (
        f"tower: http://{hangs_up} does not answer like a Tower farm "
        "(it closed the connection without an HTTP answer)"
    )


def test_a_comfyui_port_is_not_a_tower_farm(capsys, live, config):
    emulator = next(iter(live.farm.emulators.values())).url
    result = call_tower(capsys, "jobs", config=config, url=emulator)
    expected = rf"tower: {emulator} does not answer like a Tower farm \(HTTP 4\d\d"
    assert re.match(expected, one_line(result))


def test_nodes_has_a_header_row(capsys, config):
    result = call_tower(capsys, "nodes", config=config)
    assert result.code == 0, result
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NODE", "STATUS", "GPU", "DOING", "COMFYUI"]
    assert sorted(r.split()[0] for r in rows) == ["gpu-a", "gpu-b"]


def test_a_body_json_cannot_carry_is_not_said_to_be_an_unreachable_farm():
    # requests refuses NaN before sending; that was reported as "cannot reach Tower at ...".
    from tower_client import TowerClient, TowerError, UnreachableError

    with TowerClient("http://127.0.0.1:9") as client, pytest.raises(TowerError) as caught:
        client.call("POST", "/api/anime/projects", json={"name": float("nan")})
    assert not isinstance(caught.value, UnreachableError)
    assert "not sent" in str(caught.value) and "JSON" in str(caught.value)
