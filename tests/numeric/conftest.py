"""Numeric optimizer tests need torch; without it they are skipped, not failed."""
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def set_grads(params, grads):
    """Give each tensor a fresh copy of its gradient (what a backward pass would leave)."""
    for p, g in zip(params, grads):
        p.grad = g.clone()
