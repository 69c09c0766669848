"""Echo Brain's errors: each renders as a gateway status, never a 500."""

from __future__ import annotations

from shared.errors import FarmError


class LlmNotConfigured(FarmError):
    """No LLM server is set up, so the generative features are off."""

    status = 503
    code = "llm_not_configured"


class LlmTimeout(FarmError):
    """The answer did not come (whole, and valid) within the call's deadline."""

    status = 504
    code = "llm_timeout"


class LlmBadGateway(FarmError):
    """The LLM server failed: unreachable, refusing the call, or answering badly again."""

    status = 502
    code = "llm_bad_gateway"


class LlmBusy(FarmError):
    """Every farm-wide slot stayed taken until the deadline."""

    status = 504
    code = "llm_busy"
