"""Node classes the emulator executes, by class_type."""

from __future__ import annotations

from comfy_emulator.nodes.base import NodeClass
from comfy_emulator.nodes.images import IMAGE_NODES
from comfy_emulator.nodes.sampling import SAMPLING_NODES
from comfy_emulator.nodes.savers import SAVER_NODES
from comfy_emulator.nodes.video import VIDEO_NODES

NODE_CLASSES: dict[str, NodeClass] = {
    **IMAGE_NODES,
    **SAMPLING_NODES,
    **SAVER_NODES,
    **VIDEO_NODES,
}

__all__ = ["NODE_CLASSES", "NodeClass"]
