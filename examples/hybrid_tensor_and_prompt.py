"""A tensor and a prompt trained together in one loop.

A help desk routes tickets to a queue with a learned word -> queue weight matrix (a tensor
Parameter, on the GPU when there is one) and answers the customer with a reply template (a
text Parameter). Each round, the routing loss goes backward through torch autograd (the
tensor gets a gradient) and a reviewer's words about the replies go backward to the template.
``to.optim.auto`` gives the tensor to Adam and the template to the LLM optimizer, behind one
``zero_feedback()`` / ``step()``.

Runs offline: the routing part needs no model. Without a reachable LLM (no API key, no
embedded local model) the prompt steps are skipped with the reason logged, and the template
stays as it is.

Run: .venv/bin/python examples/hybrid_tensor_and_prompt.py [--model openai/gpt-4o-mini] [--rounds 10]
"""
from __future__ import annotations

import argparse
import sys

import torch

import trace_opt as to

QUEUES = ["billing", "bugs", "account"]
TICKETS = [
    ("I was charged twice for my plan", "billing"),
    ("refund the extra charge on my card", "billing"),
    ("my invoice shows the wrong price", "billing"),
    ("the app crashes when I open settings", "bugs"),
    ("error 500 when I upload a file", "bugs"),
    ("the page freezes and then crashes", "bugs"),
    ("I cannot log in to my account", "account"),
    ("how do I reset my password", "account"),
    ("please change the email on my account", "account"),
]


def vocabulary(texts: list) -> dict:
    words = sorted({w for text in texts for w in text.lower().split()})
    return {w: i for i, w in enumerate(words)}


def features(texts: list, vocab: dict, device: torch.device) -> torch.Tensor:
    """Bag of words: one row per ticket, one column per known word."""
    rows = torch.zeros(len(texts), len(vocab), device=device)
    for r, text in enumerate(texts):
        for word in text.lower().split():
            if word in vocab:
                rows[r, vocab[word]] += 1.0
    return rows


@to.bundle()
def routing_loss(weights: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the queue scores (x @ weights) against the right queues."""
    return torch.nn.functional.cross_entropy(x @ weights, target)


@to.bundle()
def pick_queues(weights: torch.Tensor, x: torch.Tensor) -> list:
    """The best-scoring queue for each ticket."""
    return [QUEUES[i] for i in (x @ weights).argmax(dim=1).tolist()]


@to.bundle()
def write_replies(template: str, queues: list) -> list:
    """Fill the reply template ({queue}) for each ticket."""
    return [template.replace("{queue}", q) for q in queues]


class HelpDesk(to.Module):
    def __init__(self, vocab_size: int, device: torch.device) -> None:
        super().__init__()
        self.weights = to.Parameter(torch.zeros(vocab_size, len(QUEUES), device=device, requires_grad=True),
                                    description="how much each word points to each queue")
        self.template = to.Parameter("Your ticket was sent to {queue}.",
                                     description="the reply sent to the customer; {queue} is replaced by the queue",
                                     constraint="a short reply to a customer that contains the placeholder {queue}")

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> tuple:
        loss = routing_loss(self.weights, x, target)
        replies = write_replies(self.template, pick_queues(self.weights, x))
        return loss, replies


def review(replies: list) -> to.Feedback:
    """What a support lead says about the replies: thanks, and when the customer hears back."""
    missing = [r for r in replies if "24 hours" not in r or "thank" not in r.lower()]
    if not missing:
        return to.Feedback("The replies are good.", score=1.0)
    return to.Feedback(f"{len(missing)} of {len(replies)} replies do not thank the customer or do not say we "
                       "answer within 24 hours. Keep the queue name in the reply.",
                       score=1.0 - len(missing) / len(replies))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="litellm model string (default: the embedded local model)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    texts = [t for t, _ in TICKETS]
    vocab = vocabulary(texts)
    x = features(texts, vocab, device)
    target = torch.tensor([QUEUES.index(q) for _, q in TICKETS], device=device)
    desk = HelpDesk(len(vocab), device)
    llm = to.LLM(args.model) if args.model else None
    opt = to.optim.auto(desk.parameters(), llm=llm, tensor={"lr": 0.1})
    print(f"device: {device}; optimizers: {opt}")

    for round_ in range(1, args.rounds + 1):
        opt.zero_feedback()
        loss, replies = desk(x, target)
        loss.backward()                     # torch autograd: the weight matrix gets its gradient
        feedback = review(replies.data)
        replies.backward(feedback)          # words for the template (the LLM optimizer reads them)
        opt.step()
        if round_ == 1 or round_ % 5 == 0:
            with to.no_trace():
                routed = pick_queues(desk.weights, x).data
            right = sum(got == want for got, (_, want) in zip(routed, TICKETS))
            print(f"round {round_:3d}  loss {loss.data.item():.3f}  routed right {right}/{len(TICKETS)}  "
                  f"reply score {feedback.score:.2f}")

    print(f"\ntemplate: {desk.template.data!r}")
    with to.no_trace():
        _, replies = desk(x, target)
    print(f"first reply: {replies.data[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(to.llm.run_main(main))  # a model that never answered: exit 1 with the cause
