"""PPO's pure math against numbers worked out by hand (the arithmetic is in the comments)."""

import math

import pytest
import torch

from training.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    apply_missing_eos_penalty,
    entropy_from_logits,
    gae,
    kl_penalty,
    logprobs_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
    policy_loss,
    value_loss,
)

approx = lambda x: pytest.approx(x, abs=1e-5)  # noqa: E731


def test_masked_mean_ignores_padding():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # (1 + 2 + 3) / 3 = 2
    assert float(masked_mean(values, mask)) == approx(2.0)
    # per row: (1 + 2) / 2 = 1.5, 3 / 1 = 3
    assert masked_mean(values, mask, dim=1).tolist() == [approx(1.5), approx(3.0)]


def test_masked_var_is_unbiased_over_real_values():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # mean 2; squared deviations 1, 0, 1 -> biased 2/3, unbiased 2/3 * 3/2 = 1
    assert float(masked_var(values, mask, unbiased=False)) == approx(2 / 3)
    assert float(masked_var(values, mask)) == approx(1.0)


def test_masked_whiten_with_and_without_mean_shift():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # mean 2, unbiased variance 1 -> (x - 2) / 1
    whitened = masked_whiten(values, mask)
    assert whitened[0, :2].tolist() == [approx(-1.0), approx(0.0)]
    assert float(whitened[1, 0]) == approx(1.0)
    # shift_mean=False adds the mean back: x - 2 + 2 = x (the variance is already 1)
    kept = masked_whiten(values, mask, shift_mean=False)
    assert kept[0, :2].tolist() == [approx(1.0), approx(2.0)]
    # a scaled input: values * 2 -> mean 4, variance 4, (x - 4) / 2 -> same -1, 0, 1
    assert masked_whiten(values * 2, mask)[0, :2].tolist() == [approx(-1.0), approx(0.0)]
    # shift_mean=False: (x - 4) / 2 + 4 -> 3, 4, 5
    assert masked_whiten(values * 2, mask, shift_mean=False)[0, :2].tolist() == [approx(3.0), approx(4.0)]


def test_gae_gamma_one_lambda_095_with_padding():
    # Row 0: three real tokens; row 1: two real tokens then padding (garbage that must be ignored).
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.5, 2.0, 9.0]])
    values = torch.tensor([[0.5, 0.2, 0.4], [0.1, 0.3, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # Row 0, backwards from the end (value after the last token is 0):
    #   t=2: delta = 1 + 0 - 0.4 = 0.6;            A2 = 0.6
    #   t=1: delta = 0 + 0.4 - 0.2 = 0.2;          A1 = 0.2 + 0.95 * 0.6 = 0.77
    #   t=0: delta = 0 + 0.2 - 0.5 = -0.3;         A0 = -0.3 + 0.95 * 0.77 = 0.4315
    # Row 1, t=2 is padding (A = 0, and its value 9 must not leak into t=1):
    #   t=1: delta = 2 + 0 - 0.3 = 1.7;            A1 = 1.7
    #   t=0: delta = 0.5 + 0.3 - 0.1 = 0.7;        A0 = 0.7 + 0.95 * 1.7 = 2.315
    assert advantages[0].tolist() == [approx(0.4315), approx(0.77), approx(0.6)]
    assert advantages[1].tolist() == [approx(2.315), approx(1.7), approx(0.0)]
    # returns = advantages + values on real tokens, 0 on padding
    assert returns[0].tolist() == [approx(0.9315), approx(0.97), approx(1.0)]
    assert returns[1].tolist() == [approx(2.415), approx(2.0), approx(0.0)]


def test_gae_gamma_discounts():
    rewards = torch.tensor([[0.0, 1.0]])
    values = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    advantages, _ = gae(rewards, values, mask, gamma=0.5, lam=1.0)
    # t=1: 1; t=0: 0 + 0.5 * 0 - 0 + 0.5 * 1.0 * 1 = 0.5
    assert advantages[0].tolist() == [approx(0.5), approx(1.0)]


def test_kl_estimators():
    logp = torch.log(torch.tensor([0.5, 0.2]))
    logq = torch.log(torch.tensor([0.25, 0.4]))
    # k1 = log p - log q = log 2 = 0.693147, log 0.5 = -0.693147
    k1 = kl_penalty(logp, logq, "k1")
    assert k1.tolist() == [approx(math.log(2)), approx(-math.log(2))]
    # k3 with r = q / p: r = 0.5 -> (0.5 - 1) - log 0.5 = -0.5 + 0.693147 = 0.193147
    #                    r = 2   -> (2 - 1) - log 2 = 1 - 0.693147 = 0.306853
    k3 = kl_penalty(logp, logq, "k3")
    assert k3.tolist() == [approx(0.193147), approx(0.306853)]
    assert float(kl_penalty(logp, logp, "k3").abs().max()) == 0.0
    with pytest.raises(ValueError):
        kl_penalty(logp, logq, "k2")


def test_policy_loss_inside_and_outside_clip():
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    old = torch.zeros(1, 5)
    # ratios: 1.1 (inside), 1.5 (above 1.2), 0.5 (below 0.8), 1.5, and padding
    new = torch.log(torch.tensor([[1.1, 1.5, 0.5, 1.5, 7.0]]))
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0, 5.0]])
    loss, clipfrac = policy_loss(new, old, adv, mask, cliprange=0.2)
    # token 0: A=1, r=1.1: max(-1.1, -1.1) = -1.1                        (not clipped)
    # token 1: A=1, r=1.5: max(-1.5, -1.2) = -1.2                        (clipped)
    # token 2: A=-1, r=0.5: max(0.5, 0.8) = 0.8                          (clipped)
    # token 3: A=-1, r=1.5: max(1.5, 1.2) = 1.5                          (not clipped: pessimistic side)
    # mean = (-1.1 - 1.2 + 0.8 + 1.5) / 4 = 0.0 / 4 = 0.0; clipfrac = 2 / 4
    assert float(loss) == approx(0.0)
    assert float(clipfrac) == approx(0.5)


def test_policy_loss_gradient_pushes_up_positive_advantage():
    new = torch.zeros(1, 1, requires_grad=True)
    loss, _ = policy_loss(new, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1), 0.2)
    loss.backward()
    assert float(new.grad) == approx(-1.0)  # d(-A * exp(new - old)) / d new = -1 at ratio 1


def test_value_loss_inside_and_outside_clip():
    mask = torch.tensor([[1, 1, 1, 0]])
    old = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    new = torch.tensor([[0.1, 1.0, 1.0, 5.0]])
    returns = torch.tensor([[0.0, 1.0, -1.0, 0.0]])
    loss, clipfrac = value_loss(new, old, returns, mask, cliprange_value=0.2)
    # token 0: new 0.1 inside the range: (0.1-0)^2 = 0.01 both ways               -> 0.01
    # token 1: new 1.0 clipped to 0.2: unclipped (1-1)^2 = 0, clipped (0.2-1)^2 = 0.64 -> 0.64 (clipped wins)
    # token 2: new 1.0 clipped to 0.2: unclipped (1+1)^2 = 4, clipped (0.2+1)^2 = 1.44 -> 4
    # loss = 0.5 * (0.01 + 0.64 + 4) / 3 = 0.5 * 1.55 = 0.775; clipfrac = 1 / 3
    assert float(loss) == approx(0.775)
    assert float(clipfrac) == approx(1 / 3)


def test_logprobs_and_entropy_from_logits():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]]))
    tokens = torch.tensor([[1]])
    assert float(logprobs_from_logits(logits, tokens)) == approx(math.log(0.25))
    # H = -(0.5 log 0.5 + 2 * 0.25 log 0.25) = 0.346574 + 0.693147 = 1.039721
    assert float(entropy_from_logits(logits)) == approx(1.039721)
    # a constant shift of the logits changes neither
    assert float(entropy_from_logits(logits + 3.0)) == approx(1.039721)


def test_missing_eos_penalty():
    scores = torch.tensor([1.0, 2.0])
    finished = torch.tensor([True, False])
    assert apply_missing_eos_penalty(scores, finished, 1.0).tolist() == [1.0, 1.0]
    assert apply_missing_eos_penalty(scores, finished, None).tolist() == [1.0, 2.0]
    assert apply_missing_eos_penalty(scores, finished, 0).tolist() == [1.0, 2.0]


def test_adaptive_kl_controller():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    # KL 9 vs target 6: error = 9/6 - 1 = 0.5, clipped to 0.2; value = 0.1 * (1 + 0.2 * 100 / 10000) = 0.1002
    assert ctl.update(9.0, 100) == approx(0.1002)
    # KL 3: error = 3/6 - 1 = -0.5 -> -0.2; 0.1002 * (1 - 0.2 * 100 / 10000) = 0.1002 * 0.998 = 0.0999996
    assert ctl.update(3.0, 100) == approx(0.0999996)
    # KL 6.6: error = 0.1 (inside the clip); 0.0999996 * (1 + 0.1 * 1000 / 10000) = 0.10099960
    assert ctl.update(6.6, 1000) == approx(0.1009996)
    assert FixedKLController(0.05).update(100.0, 100) == 0.05
