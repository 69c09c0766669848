"""Tests of the ComfyUI emulator against the recorded transcripts."""
