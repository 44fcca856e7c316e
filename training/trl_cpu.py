"""A CPU path for TRL's fused LM head (DPOTrainer's per-token log-probabilities).

TRL 1.16's DPOTrainer scores completions through `add_fused_lm_head`: a chunked log-softmax built
for GPUs (Triton kernels over the valid positions only, fp32 accumulation in cuBLAS). Without a
GPU it falls back to torch loops that score every position of every sequence, prompt included,
in fp32 (bf16 autocast does not reach them) and recompute the projection in the backward pass:
on this project's CPU that was 5.5 of a DPO step's 6.8 s (SmolLM2, 8 pairs).

`cpu_lm_head()` swaps in, for as long as it is active, a plain autograd path with the same
contract: only the positions with a label are projected (TRL's own "compact" branch), through
`torch.nn.functional.linear` under the trainer's autocast, then log-softmax in float32. The
vocabulary-sized logits of one batch's completion tokens fit in memory on a CPU host. Tested
against TRL's own path (`tests/training/test_dpo.py`); TRL is pinned, and a TRL that renames
these internals fails that test instead of silently taking the slow path.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

OUTPUTS = (
    "entropy",
    "log_sum_sq_probs",
    "mean_logits",
    "is_top1",
)  # TRL's optional per-token fields, in order


class PlainLogProb:
    """`ChunkedLogProbFunction.apply`'s signature and outputs, computed with ordinary autograd ops."""

    @staticmethod
    def apply(hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
        logits = torch.nn.functional.linear(hidden, weight, bias).float() * logit_scale
        if softcap is not None:
            logits = softcap * torch.tanh(logits / softcap)
        logits = logits / temperature
        log_softmax = torch.log_softmax(logits, dim=-1)
        log_probs = log_softmax.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        extra = {}
        if "entropy" in outputs:
            extra["entropy"] = -(log_softmax.exp() * log_softmax).sum(-1)
        with torch.no_grad():
            if "log_sum_sq_probs" in outputs:
                extra["log_sum_sq_probs"] = torch.logsumexp(2 * log_softmax, dim=-1)
            if "mean_logits" in outputs:
                extra["mean_logits"] = logits.mean(-1)
            if "is_top1" in outputs:
                extra["is_top1"] = logits.argmax(-1) == labels
        return (log_probs, *(extra.get(name) for name in OUTPUTS))


@contextlib.contextmanager
def cpu_lm_head() -> Iterator[None]:
    """While active, TRL's fused LM head scores only labelled positions, with plain autograd ops."""
    import trl.trainer.utils as trl_utils

    saved = trl_utils._ChunkedLogProbFunction, trl_utils._use_triton
    trl_utils._ChunkedLogProbFunction = PlainLogProb
    trl_utils._use_triton = lambda device: True  # "compact": project only the positions that have a label
    try:
        yield
    finally:
        trl_utils._ChunkedLogProbFunction, trl_utils._use_triton = saved
