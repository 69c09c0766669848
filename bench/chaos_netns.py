"""A second host on this machine for bench.chaos: a network namespace joined to the farm by a
veth pair, whose link can be cut and mended like a network partition."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

NAMESPACE = "tower-chaos"
HOST_LINK = "tchaos-host"
FAR_LINK = "tchaos-far"
HOST_IP = "10.231.0.1"  # the farm's side: its Postgres, Redis and web listen here too
FAR_IP = "10.231.0.2"  # the second host's GPU worker and ComfyUI
NETWORK = "10.231.0.0/30"
IN_NAMESPACE = ["ip", "netns", "exec", NAMESPACE]


def ip(*args: str, check: bool = True) -> None:
    """Run `ip` with the arguments.

    :raises subprocess.CalledProcessError: it failed and `check` is set.
    """
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=10)


@contextmanager
def second_host() -> Iterator[None]:
    """The namespace and its veth pair, up; removed on the way out (also after a failure)."""
    remove()  # what an interrupted run may have left
    ip("netns", "add", NAMESPACE)
    try:
        ip("link", "add", HOST_LINK, "type", "veth", "peer", "name", FAR_LINK)
        ip("link", "set", FAR_LINK, "netns", NAMESPACE)
        ip("addr", "add", f"{HOST_IP}/30", "dev", HOST_LINK)
        ip("link", "set", HOST_LINK, "up")
        ip("-n", NAMESPACE, "addr", "add", f"{FAR_IP}/30", "dev", FAR_LINK)
        ip("-n", NAMESPACE, "link", "set", FAR_LINK, "up")
        ip("-n", NAMESPACE, "link", "set", "lo", "up")
        yield
    finally:
        remove()


def remove() -> None:
    """Delete the veth pair and the namespace, if present."""
    ip("link", "del", HOST_LINK, check=False)
    ip("netns", "del", NAMESPACE, check=False)


def cut() -> None:
    """Drop the link at the far end: nothing passes between the two hosts. (Taking the farm's
    end down would remove its route to the far host, and packets would leave by the default
    route to whatever answers there.)"""
    ip("-n", NAMESPACE, "link", "set", FAR_LINK, "down")


def mend() -> None:
    """Bring the link back."""
    ip("-n", NAMESPACE, "link", "set", FAR_LINK, "up")
