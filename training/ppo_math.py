"""The pure tensor math of PPO for language models: no models, no I/O, every function tested by hand.

Shapes: B rows (sampled responses) by T response tokens. `mask` is 1 on real response tokens
(the EOS included) and 0 on the right padding after it; every statistic below ignores padding.
The choices follow "The N+ Implementation Details of RLHF with PPO" (Huang et al. 2024) and the
TRL PPOTrainer that paper describes.
"""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `values` over the positions where `mask` is 1 (all of them, or along `dim`)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum()
    return (values * mask).sum(dim) / mask.sum(dim)


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance over the masked positions; `unbiased` applies Bessel's n / (n - 1) as TRL does."""
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        count = mask.sum()
        if count < 2:
            raise ValueError("masked_var needs at least two unmasked values for the unbiased estimate")
        variance = variance * count / (count - 1)
    return variance


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Scale to unit variance over the masked positions; with `shift_mean` also centre on zero.

    Advantages are whitened with the mean shifted (Huang et al., detail 4.4); rewards, when
    `whiten_rewards` is on, keep their mean (`shift_mean=False`) so their sign survives.
    Padded positions come back transformed too: callers zero them with the mask.
    """
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over right-padded response tokens -> (advantages, returns).

    delta_t = r_t + gamma * V_{t+1} - V_t, A_t = delta_t + gamma * lam * A_{t+1}, where the value
    and advantage after the last real token are 0 (the episode ends at EOS or at the length
    limit). Padded positions get advantage and return 0. returns = advantages + values.
    """
    mask = mask.to(values.dtype)
    length = rewards.size(1)
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(length)):
        next_mask = mask[:, t + 1] if t + 1 < length else torch.zeros_like(last)
        next_value = values[:, t + 1] * next_mask if t + 1 < length else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * next_mask * last) * mask[:, t]
        advantages[:, t] = last
    returns = (advantages + values) * mask
    return advantages, returns


def kl_penalty(logprob: torch.Tensor, ref_logprob: torch.Tensor, estimator: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from the sampled token's log-probabilities.

    With p the policy and q the reference probability of the sampled token:
    k1 = log p - log q (unbiased, can be negative per token);
    k3 = (r - 1) - log r with r = q / p (unbiased, never negative; Schulman's "Approximating KL").
    """
    log_ratio = logprob - ref_logprob  # log p - log q
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio  # r - 1 - log r, with log r = -log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}: use 'k1' or 'k3'")


def policy_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cliprange: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, to minimise -> (loss, share of tokens where the clip was active).

    ratio = exp(new - old); loss = mean(max(-A * ratio, -A * clip(ratio, 1 - c, 1 + c))).
    """
    ratio = torch.exp(new_logprob - old_logprob)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clipfrac = masked_mean((clipped > unclipped).float(), mask)
    return loss, clipfrac


def value_loss(
    new_values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    cliprange_value: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss -> (loss, share of tokens where the clipped error was the larger one).

    v_clip = old + clip(new - old, -c, c); loss = 0.5 * mean(max((new - R)^2, (v_clip - R)^2)).
    """
    clipped_values = old_values + torch.clamp(new_values - old_values, -cliprange_value, cliprange_value)
    unclipped_loss = (new_values - returns) ** 2
    clipped_loss = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_loss, clipped_loss), mask)
    clipfrac = masked_mean((clipped_loss > unclipped_loss).float(), mask)
    return loss, clipfrac


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[token] for every position: [B, T, V] logits, [B, T] tokens -> [B, T].

    Computed in float32 whatever the logits' dtype (bf16 log-probabilities are too coarse for
    the PPO ratio). Divide the logits by the sampling temperature before calling this.
    """
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return torch.gather(logprobs, 2, tokens.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax(logits) at every position: [B, T, V] -> [B, T], in nats."""
    logits = logits.float()
    probs = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(-1)


def apply_missing_eos_penalty(
    scores: torch.Tensor, finished: torch.Tensor, penalty: float | None
) -> torch.Tensor:
    """Subtract `penalty` from the score of every response that ran out of tokens before EOS."""
    if not penalty:
        return scores
    return scores - penalty * (~finished.bool()).to(scores.dtype)


class AdaptiveKLController:
    """Ziegler et al. (2019)'s controller: nudge the KL coefficient so the KL tracks a target.

    After each rollout of n episodes with measured KL `current`:
    error = clip(current / target - 1, -0.2, 0.2); value *= 1 + error * n / horizon.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int):
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current: float, n_steps: int) -> float:
        proportional_error = min(max(current / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon
        return self.value


class FixedKLController:
    """A constant KL coefficient, with the same interface as `AdaptiveKLController`."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current: float, n_steps: int) -> float:
        return self.value
