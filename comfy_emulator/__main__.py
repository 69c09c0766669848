"""Entry point for ``python -m comfy_emulator``."""

from __future__ import annotations

from comfy_emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
