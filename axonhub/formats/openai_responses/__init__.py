"""OpenAI Responses API (Codex, the openai SDK's `client.responses`): inbound format and channel type."""
