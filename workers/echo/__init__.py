"""Echo Brain: an OpenAI-compatible LLM asked for JSON, and the creative features built on it."""
