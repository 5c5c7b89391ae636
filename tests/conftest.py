"""Shared test set-up: offline and deterministic."""
import os

# litellm would fetch its price map from the network at import time without this.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
