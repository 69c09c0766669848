"""Per-class /object_info recordings from ComfyUI 0.3.64 (+ two specs written from the docs)."""
