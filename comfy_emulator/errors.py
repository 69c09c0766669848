"""Exceptions raised inside emulated nodes, reported with the real server's exception types."""

from __future__ import annotations


class EmulatedError(Exception):
    """A node failure whose exception_type is reported as type_name (e.g. 'EOFError')."""

    def __init__(self, message: str, type_name: str = "Exception") -> None:
        super().__init__(message)
        self.type_name = type_name


class InterruptProcessing(Exception):
    """The interrupt flag was seen at a node boundary or a progress update."""


OOM_TIPS = (
    "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before "
    "you might have accidentally set the batch_size to a large number."
)

# What a broken or failing model looks like on the real server, per loader class.
REALISTIC_FAILURES = {
    "CheckpointLoaderSimple": (
        "safetensors._safetensors_rust.SafetensorError",
        "Error while deserializing header: header too small",
    ),
    "ImageOnlyCheckpointLoader": (
        "safetensors._safetensors_rust.SafetensorError",
        "Error while deserializing header: header too small",
    ),
    "LoraLoader": (
        "safetensors._safetensors_rust.SafetensorError",
        "Error while deserializing header: header too small",
    ),
    "RIFE VFI": ("EOFError", "Ran out of input"),
}


def injected_failure(class_type: str) -> EmulatedError:
    """The permanent error an `error:<class>` fault raises in that class."""
    type_name, message = REALISTIC_FAILURES.get(
        class_type, ("RuntimeError", f"emulator: injected failure in {class_type}")
    )
    return EmulatedError(message, type_name)


def injected_oom() -> EmulatedError:
    """The torch out-of-memory error an `oom:<class>` fault raises."""
    return EmulatedError(
        "CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total capacity of "
        "23.99 GiB of which 1.02 GiB is free. Of the allocated memory 21.61 GiB is allocated "
        "by PyTorch, and 412.37 MiB is reserved by PyTorch but unallocated.",
        "torch.OutOfMemoryError",
    )
