"""Serve a trained agent over HTTP: POST /answer {"question": "..."} -> {"answer": "..."}.

Train, export the trained parameters, serve them (needs the serve extra: fastapi and uvicorn):

    trace-opt run examples/train_qa_agent.py:make_trainer --run-dir runs/qa
    trace-opt export runs/qa                       # writes runs/qa/agent.json
    .venv/bin/python examples/serve_agent.py runs/qa/agent.json --port 8000
    curl -s localhost:8000/answer -H 'content-type: application/json' -d '{"question": "..."}'

The agent runs untraced (no graph is built) and no optimizer is imported: serving trains nothing.
Each request runs in FastAPI's thread pool, so requests wait on the model side by side.
"""
from __future__ import annotations

import argparse
import logging
import sys

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

import trace_opt as to
from agents.few_shot import FewShotAgent
from agents.qa import QAAgent
from trace_opt.llm.redaction import redact

AGENTS = {"qa": QAAgent, "few-shot": FewShotAgent}  # the agent a parameter file was trained on
MAX_QUESTION_CHARS = 8000  # a longer question is refused (422) before it reaches the model
log = logging.getLogger("serve_agent")


class Question(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)


class Answer(BaseModel):
    answer: str


def ask(agent: to.Module, question: str) -> str:
    """The agent's answer, untraced: serving builds no graph and sends no feedback."""
    with to.no_trace():
        return str(agent(to.node(question, name="question")).data)


def failure(error: Exception) -> str:
    """What a client is told when the agent fails: one line, credentials masked, no traceback."""
    first_line = (str(error).splitlines() or [""])[0]
    return redact(f"the agent failed: {type(error).__name__}: {first_line}")[:300]


def build_app(agent: to.Module) -> FastAPI:
    """The HTTP API of one loaded agent (the agent is shared by every request)."""
    app = FastAPI(title=f"trained {type(agent).__name__}")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "agent": type(agent).__name__}

    @app.post("/answer", response_model=Answer)
    def answer(body: Question) -> Answer:  # a plain def: FastAPI runs it in its thread pool
        try:
            return Answer(answer=ask(agent, body.question))
        except Exception as error:  # the agent's fault, not the request's
            message = failure(error)
            log.warning("%s", message)
            raise HTTPException(status_code=500, detail=message) from None

    return app


def load_agent(kind: str, params: str, llm: object) -> to.Module:
    """A fresh agent (no optimizer: it needs none to run) holding the trained parameters."""
    agent = AGENTS[kind](llm)
    agent.load(params)
    return agent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", metavar="PARAMS", help="a file written by `trace-opt export` or Module.save")
    parser.add_argument("--agent", choices=sorted(AGENTS), default="qa", help="the agent the file was trained on")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-tokens", type=int, default=32, help="reply length, as examples/train_qa_agent.py trains")
    args = parser.parse_args()
    import uvicorn

    try:
        agent = load_agent(args.agent, args.params, to.LLM(max_tokens=args.max_tokens))
    except (OSError, ValueError) as error:  # a missing file, or one for another agent
        print(f"serve_agent: {error}", file=sys.stderr)
        return 2
    uvicorn.run(build_app(agent), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
