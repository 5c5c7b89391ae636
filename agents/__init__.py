"""Reusable trainable agents (question answering, coding, tool-using ReAct) built on trace_opt.

Each agent is a ``trace_opt.Module`` whose prompts, code and settings are Parameters, so any
optimizer can train it. The agents arrive with the trainer (see the issues); this package
holds their place in the layout.
"""
