"""LLM optimizers: an LLM proposes new values for text, code, JSON, numbers and choices."""
