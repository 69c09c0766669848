"""Node classes the emulator executes, by class_type."""

from __future__ import annotations

from comfy_emulator.errors import EmulatedError
from comfy_emulator.nodes.base import NodeClass
from comfy_emulator.nodes.images import IMAGE_NODES
from comfy_emulator.nodes.sampling import SAMPLING_NODES
from comfy_emulator.nodes.savers import SAVER_NODES
from comfy_emulator.nodes.upscale import UPSCALE_NODES
from comfy_emulator.nodes.video import VIDEO_NODES

NODE_CLASSES: dict[str, NodeClass] = {
    **IMAGE_NODES,
    **SAMPLING_NODES,
    **SAVER_NODES,
    **UPSCALE_NODES,
    **VIDEO_NODES,
}


def node_class(class_type: str) -> NodeClass:
    """How to run a class.

    :raises EmulatedError: for a class the catalogue lists (the real server has it) but the
        emulator does not run; it fails the prompt like any node error.
    """
    try:
        return NODE_CLASSES[class_type]
    except KeyError:
        raise EmulatedError(
            f"the emulator lists {class_type} (the real server has it) but does not run it",
            "NotImplementedError",
        ) from None


__all__ = ["NODE_CLASSES", "NodeClass", "node_class"]
