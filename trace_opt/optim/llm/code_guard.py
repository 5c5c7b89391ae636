"""CodeGuard: everything an LLM optimizer does with code it did not write, in one place.

It vets each proposed version (the sandbox's static policy, then a trial run on the inputs the
step recorded: code_check.py), keeps the reasons of a refusal for the next prompt, installs an
accepted version together with how it runs (isolated workers, unless the trial is ``trusted``), and puts back a version it installed that then raised. Nothing happens to a code
parameter when an optimizer is built: only an accepted version brings the policy with it, so a
second optimizer over the same parameter changes nothing until it installs code of its own.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List

from ...graph import ExceptionNode, Parameter
from ...graph.isolated import IsolatedCode
from ..report import Candidate
from .code_check import CodeTrial, recorded_calls, trial_error

log = logging.getLogger("trace_opt.optim")


class CodeGuard:
    """Vets, installs and reverts proposed code for one optimizer (``owner`` names it in logs)."""

    def __init__(self, trial: CodeTrial, owner: str, state: Dict[Parameter, Dict[str, Any]]) -> None:
        self.trial, self.owner = trial, owner
        self.rejections: List[str] = []    # why code proposed at the last step was refused: told at the next
        self.state = state                 # the optimizer's per-parameter state (saved with it): previous, proposed

    def vet(self, candidate: Candidate) -> Candidate:
        """Drop the candidate's code changes that fail the policy or their trial, saying why."""
        for proposal in candidate.proposals:
            param = next((p for p in candidate.changes if p.name == proposal.name), None)
            if param is None or param.kind != "code":
                continue
            error = trial_error(candidate.changes[param], recorded_calls(param), self.trial)
            if error is not None:
                del candidate.changes[param]
                proposal.accepted, proposal.reason = False, f"rejected: {error}"
                self.rejections.append(f"The code proposed for {param.name} was rejected: {error}.")
        return candidate

    def take_rejections(self) -> List[str]:
        """The refusals since the last step (for this step's prompt), forgotten once taken."""
        notes, self.rejections = self.rejections, []
        return notes

    def install(self, param: Parameter, value: Any) -> None:
        """Set an accepted value; a code version brings the builtins it was vetted to run with."""
        if param.kind != "code":
            param.data = value
            return
        previous = param.data
        param.data = value
        self.adopt([param])
        self.state.setdefault(param, {}).update(previous=previous, proposed=value)

    def runner(self):
        """How code accepted here runs: isolated workers under the trial's policy and limits."""
        trial = self.trial
        return None if trial.trusted else IsolatedCode(trial.policy, trial.timeout, trial.memory_mb)

    def adopt(self, params: List[Parameter]) -> None:
        """Make code parameters run isolated: at an installation, and when a saved run resumes
        (its code was accepted under this guard; the user's original source still runs in this
        process, see Bundle)."""
        for param in params:
            if param.kind == "code":
                param.code_runner = self.runner()

    def revert_crashed(self, params: List[Parameter]) -> List[str]:
        """Code installed here that then raised is put back; the error becomes a note."""
        notes = []
        for param in params:
            state = self.state.get(param, {})
            if param.kind != "code" or "previous" not in state or not param.spec.same(param.data, state.get("proposed")):
                continue
            crash = next((r.output for r in param.feedback
                          if isinstance(r.output, ExceptionNode) and param in r.output.parents), None)
            if crash is not None:
                param.data = state.pop("previous")
                state.pop("proposed", None)
                notes.append(f"The code last proposed for {param.name} raised {crash.data}; it was reverted.")
                log.info("%s: reverted %s after it raised %s", self.owner, param.name, crash.data)
        return notes
