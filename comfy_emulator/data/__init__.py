"""Recorded /object_info data shipped with the emulator."""
