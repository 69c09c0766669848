"""What Frame-Interpolation raises, offline, for a checkpoint it lists but has not got: it tries
every download address (vfi_utils.load_file_from_github_release) and reports each failure
with its full chained traceback, about 25 KB for a RIFE checkpoint with fallbacks."""

from __future__ import annotations

from comfy_emulator.errors import EmulatedError

BASE_URLS = (
    "https://github.com/styler00dollar/VSGAN-tensorrt-docker/releases/download/models/",
    "https://github.com/Fannovel16/ComfyUI-Frame-Interpolation/releases/download/models/",
    "https://github.com/dajes/frame-interpolation-pytorch/releases/download/v1.0.0/",
)
# vfi_utils.CKPT_FALLBACK_URLS (the pack's own mirror list), for the checkpoints it has them.
FALLBACK_URLS = {
    "rife47.pth": (
        "https://huggingface.co/marduk191/rife/resolve/main/rife47.pth",
        "https://huggingface.co/wavespeed/misc/resolve/main/rife/rife47.pth",
        "https://huggingface.co/MachineDelusions/RIFE/resolve/main/rife47.pth",
        "https://huggingface.co/jasonot/mycomfyui/resolve/main/rife47.pth",
    ),
    "rife49.pth": (
        "https://huggingface.co/marduk191/rife/resolve/main/rife49.pth",
        "https://huggingface.co/hfmaster/models-moved/resolve/main/rife/rife49.pth",
        "https://huggingface.co/MachineDelusions/RIFE/resolve/main/rife49.pth",
        "https://huggingface.co/Isi99999/Frame_Interpolation_Models/resolve/main/rife49.pth",
    ),
}
LIB = "<python>/urllib/request.py"
CONNECT_FRAMES = (
    (LIB, 1348, "do_open", "h.request(req.get_method(), req.selector, req.data, headers,"),
    (
        "<python>/http/client.py",
        1294,
        "request",
        "self._send_request(method, url, body, headers, encode_chunked)",
    ),
    (
        "<python>/http/client.py",
        1340,
        "_send_request",
        "self.endheaders(body, encode_chunked=encode_chunked)",
    ),
    (
        "<python>/http/client.py",
        1289,
        "endheaders",
        "self._send_output(message_body, encode_chunked=encode_chunked)",
    ),
    ("<python>/http/client.py", 1048, "_send_output", "self.send(msg)"),
    ("<python>/http/client.py", 986, "send", "self.connect()"),
    ("<python>/http/client.py", 1459, "connect", "super().connect()"),
    ("<python>/http/client.py", 952, "connect", "self.sock = self._create_connection("),
    (
        "<python>/socket.py",
        827,
        "create_connection",
        "for res in getaddrinfo(host, port, 0, SOCK_STREAM):",
    ),
    (
        "<python>/socket.py",
        962,
        "getaddrinfo",
        "for res in _socket.getaddrinfo(host, port, family, type, proto, flags):",
    ),
)
OPEN_FRAMES = (
    (
        "<custom_nodes>/ComfyUI-Frame-Interpolation/vfi_utils.py",
        125,
        "load_file_from_github_release",
        "return load_file_from_url(url, get_ckpt_container_path(model_type))",
    ),
    (
        "<custom_nodes>/ComfyUI-Frame-Interpolation/vfi_utils.py",
        115,
        "load_file_from_url",
        "download_url_to_file(url, cached_file, hash_prefix=None, progress=progress)",
    ),
    ("<site-packages>/torch/hub.py", 749, "download_url_to_file", "with urlopen(req) as u:"),
    (LIB, 216, "urlopen", "return opener.open(url, data, timeout)"),
    (LIB, 519, "open", "response = self._open(req, data)"),
    (LIB, 536, "_open", "result = self._call_chain(self.handle_open, protocol, protocol +"),
    (LIB, 496, "_call_chain", "result = func(*args)"),
    (LIB, 1391, "https_open", "return self.do_open(http.client.HTTPSConnection, req,"),
    (LIB, 1351, "do_open", "raise URLError(err)"),
)
NO_DNS = "[Errno -2] Name or service not known"


def frames_text(frames: tuple[tuple[str, int, str, str], ...]) -> str:
    """Traceback lines as Python prints them (source line, then its caret marks)."""
    out = []
    for path, line, function, source in frames:
        out.append(
            f'  File "{path}", line {line}, in {function}\n    {source}\n    {"^" * len(source)}\n'
        )
    return "".join(out)


def attempt_log(url: str) -> str:
    """One failed download: the DNS error, then the URLError raised while handling it."""
    return (
        f"Error when downloading from: {url}\n\nTraceback (most recent call last):\n"
        f"{frames_text(CONNECT_FRAMES)}socket.gaierror: {NO_DNS}\n\nDuring handling of the "
        "above exception, another exception occurred:\n\nTraceback (most recent call "
        f"last):\n{frames_text(OPEN_FRAMES)}urllib.error.URLError: <urlopen error "
        f"{NO_DNS}>\n"
    )


def download_failure(ckpt_name: str) -> EmulatedError:
    """The exception the RIFE node raises for a listed checkpoint that is not on disk."""
    urls = [base + ckpt_name for base in BASE_URLS] + list(FALLBACK_URLS.get(ckpt_name, ()))
    log = "\n\n".join(attempt_log(url) for url in urls)
    return EmulatedError(
        f"Tried all urls to download {ckpt_name} but no success. Below is the error log:\n\n{log}",
        "Exception",
    )
