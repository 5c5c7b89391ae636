"""Numeric optimizers over torch tensors: SGD, Adam, AdamW (torch's, fused where possible),
Lion, Sophia and Muon (implemented here as ``torch.optim.Optimizer`` subclasses).

They take trace_opt tensor ``Parameter``s as well as plain tensors and ``nn.Parameter``s.
Modules here import torch at the top; ``trace_opt.optim`` loads them only on first use.
"""
