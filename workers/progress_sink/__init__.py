"""The progress sink: Redis progress streams in, coalesced StageRun and Job rows out."""

from __future__ import annotations

from workers.progress_sink.sink import JobBuffer, ProgressSink, SinkStats

__all__ = ["JobBuffer", "ProgressSink", "SinkStats"]
