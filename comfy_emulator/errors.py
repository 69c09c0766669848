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


# Where Frame-Interpolation looks for a checkpoint it lacks (vfi_utils.BASE_MODEL_DOWNLOAD_URLS).
RIFE_DOWNLOAD_URLS = (
    "https://github.com/styler00dollar/VSGAN-tensorrt-docker/releases/download/models/",
    "https://github.com/Fannovel16/ComfyUI-Frame-Interpolation/releases/download/models/",
    "https://github.com/dajes/frame-interpolation-pytorch/releases/download/v1.0.0/",
)


def download_failure(ckpt_name: str) -> EmulatedError:
    """What the RIFE node raises for a checkpoint it lists but cannot download (offline)."""
    logs = "\n\n".join(
        f"Error when downloading from: {base}{ckpt_name}\n\nTraceback (most recent call last):\n"
        "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>\n"
        for base in RIFE_DOWNLOAD_URLS
    )
    return EmulatedError(
        f"Tried all urls to download {ckpt_name} but no success. Below is the error log:\n\n"
        f"{logs}",
        "Exception",
    )


def injected_oom() -> EmulatedError:
    """The torch out-of-memory error an `oom:<class>` fault raises."""
    return EmulatedError(
        "CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total capacity of "
        "23.99 GiB of which 1.02 GiB is free. Of the allocated memory 21.61 GiB is allocated "
        "by PyTorch, and 412.37 MiB is reserved by PyTorch but unallocated.",
        "torch.OutOfMemoryError",
    )
