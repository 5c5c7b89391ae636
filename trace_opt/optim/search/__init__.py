"""Derivative-free search for parameters whose only signal is a score: bounded numbers (SPSA,
RankingZO) and categorical choices (ChoiceSearch).

They work ask/tell inside the usual loop: run the workflow with the current values, send
feedback with a score backward (``Feedback(score=...)`` or a number; higher is better), call
``step()``: it reads the scores that arrived for the values just evaluated and sets the next
values to evaluate, always within bounds and through ``param.data = ...`` (validated).
"""
