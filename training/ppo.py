"""PPO for causal language models, readable top to bottom (in the spirit of CleanRL).

The algorithm follows "The N+ Implementation Details of RLHF with PPO" (Huang et al. 2024):

1. Rollout. Sample `rollout_batch_size` prompts, render them with the chat template, sample one
   response each with `training.generate.sample_batch` (full softmax at `temperature`, truncated
   after the first EOS, right-padded).
2. Score. `reward_fn(prompts, response_texts)` gives one scalar per response; responses that never
   emitted EOS lose `missing_eos_penalty`.
3. Evaluate the rollout without gradients: log-probabilities of the sampled tokens under the
   policy and the frozen reference (both from logits / temperature, the distribution actually
   sampled from), and per-token values from the value model.
4. Rewards: -kl_coef * KL per token, plus the score on the last real token (the EOS).
5. GAE advantages (gamma, lam) and returns; advantages whitened over the real tokens.
6. `ppo_epochs` passes over shuffled minibatches: clipped policy loss + vf_coef * clipped value
   loss, one Adam step (eps 1e-5) per minibatch after clipping the gradient norm.
7. Optionally adapt the KL coefficient (Ziegler et al. 2019); log; repeat.

Policy and value are separate models. The value model is a sequence-classification checkpoint
(the reward model, per the paper): its backbone and score head are applied to every position to
give one value per token.

Padding: queries are left-padded and responses right-padded, so `query + response` has pad on
both sides. Attention masks cover both, position ids count only real tokens, and the logits (or
value) for response token t are read at position `query_width + t - 1`, the state before it.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm
from transformers import set_seed

from training.generate import Conversation, encode_prompts, sample_batch
from training.models import (
    Runtime, freeze_all_but_top, load_causal_lm, load_reward_model, load_tokenizer, save_model,
)
from training.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    apply_missing_eos_penalty,
    entropy_from_logits,
    gae,
    kl_penalty,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
    policy_loss,
    value_loss,
)

log = logging.getLogger(__name__)

RewardFn = Callable[[list[Conversation], list[str]], "torch.Tensor"]


@dataclass
class PPOArgs:
    """PPO hyper-parameters (every field is a `python -m training ppo --FIELD` flag).

    Cost, measured with `benchmarks/ppo_step.py` on the 2-core development CPU (fp32, torch 2.13),
    SmolLM2-135M, rollout_batch_size 16, max_new_tokens 48 (45 on average), ppo_epochs 2,
    minibatch_size 8, trainable_layers 4: 300-440 s per PPO update (4 updates over two runs;
    generation 113-207 s, rollout log-probabilities and values 44-54 s, the 4 gradient steps
    108-135 s), while other jobs shared the machine (load average 4.5-8 on 2 cores), so an idle
    machine is faster by an unmeasured factor. Real runs belong on a GPU (bf16, picked by
    `Runtime.detect`; not measured here).
    """

    policy_path: str = field(metadata={"help": "Causal LM checkpoint directory to start from (also gives the tokenizer)."})
    value_model_path: str = field(
        metadata={"help": "Reward-model checkpoint (sequence classification, 1 label) the value model starts from."}
    )
    out_dir: str = field(metadata={"help": "Where the trained policy is saved (must not exist yet)."})
    metrics_path: str | None = field(
        default=None, metadata={"help": "JSON-lines file that gets one line of metrics per logged PPO update."}
    )
    seed: int = field(default=0, metadata={"help": "Seeds prompt order, sampling and minibatches; same seed, same run on CPU."})
    total_episodes: int = field(default=64, metadata={"help": "Responses sampled over the whole run."})
    rollout_batch_size: int = field(default=16, metadata={"help": "Prompts sampled per rollout (one PPO update each)."})
    minibatch_size: int = field(default=8, metadata={"help": "Responses per gradient step inside an update."})
    ppo_epochs: int = field(default=2, metadata={"help": "Passes (K) over each rollout's minibatches."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Adam learning rate for policy and value."})
    anneal_lr: bool = field(default=False, metadata={"help": "Decay the learning rate linearly to 0 over the run."})
    max_new_tokens: int = field(default=48, metadata={"help": "Most tokens sampled per response (EOS included)."})
    max_prompt_tokens: int | None = field(
        default=512, metadata={"help": "Keep only the last N tokens of longer rendered prompts; None keeps all."}
    )
    temperature: float = field(
        default=0.7, metadata={"help": "Sampling temperature; log-probabilities use the same logits / temperature."}
    )
    kl_coef: float = field(default=0.05, metadata={"help": "Weight of the per-token KL penalty to the reference."})
    adaptive_kl: bool = field(default=False, metadata={"help": "Adapt kl_coef towards target_kl (Ziegler et al. 2019)."})
    target_kl: float = field(default=6.0, metadata={"help": "Adaptive KL: target KL per response, in nats."})
    kl_horizon: int = field(default=10000, metadata={"help": "Adaptive KL: horizon, in episodes, of the controller."})
    kl_estimator: str = field(default="k1", metadata={"help": "Per-token KL estimator: k1 (log p - log q) or k3."})
    gamma: float = field(default=1.0, metadata={"help": "Discount factor of GAE."})
    lam: float = field(default=0.95, metadata={"help": "Lambda of GAE."})
    cliprange: float = field(default=0.2, metadata={"help": "Clip range of the policy ratio."})
    cliprange_value: float = field(default=0.2, metadata={"help": "Clip range of the value update."})
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss in the total loss."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the joint policy+value gradient norm to this."})
    missing_eos_penalty: float | None = field(
        default=1.0, metadata={"help": "Subtracted from the score of responses without EOS; None or 0 turns it off."}
    )
    whiten_rewards: bool = field(default=False, metadata={"help": "Whiten per-token rewards (mean kept) before GAE."})
    trainable_layers: int | None = field(
        default=None,
        metadata={"help": "Train only the top N transformer layers (+ final norm, value head) of policy and value."},
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank for the policy (peft); 0 trains the weights directly."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha, when lora_r > 0."})
    logging_steps: int = field(default=1, metadata={"help": "Log every N PPO updates (the last one is always logged)."})

    def __post_init__(self):
        if self.temperature <= 0:
            raise ValueError("PPO needs temperature > 0: it samples and scores logits / temperature")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"kl_estimator must be k1 or k3, not {self.kl_estimator!r}")
        if not 0 < self.minibatch_size <= self.rollout_batch_size:
            raise ValueError("minibatch_size must be between 1 and rollout_batch_size")
        if self.logging_steps < 1:
            raise ValueError("logging_steps must be >= 1")

    @property
    def num_updates(self) -> int:
        return math.ceil(self.total_episodes / self.rollout_batch_size)


@dataclass
class PPOResult:
    checkpoint: Path  # the saved policy (loads with training.models.load_causal_lm)
    metrics: dict  # summary: reward_start, reward_end, kl_end, ...
    history: list[dict] = field(default_factory=list)  # one record per logged update


# --------------------------------------------------------------------------------------------
# Models: per-token log-probabilities and values of query + response
# --------------------------------------------------------------------------------------------


def _position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that count only real tokens, so a left-padded row sees the unpadded positions."""
    return (attention_mask.cumsum(1) - 1).clamp(min=0)


def policy_forward(
    model, query: torch.Tensor, query_mask: torch.Tensor, response: torch.Tensor, response_mask: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Logits / temperature for every response token, read one position before it: [B, T, V]."""
    input_ids = torch.cat([query, response], dim=1)
    attention_mask = torch.cat([query_mask, response_mask], dim=1)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=_position_ids(attention_mask),
                use_cache=False)
    width = query.size(1)
    return out.logits[:, width - 1:-1] / temperature


def value_forward(
    value_model, query: torch.Tensor, query_mask: torch.Tensor, response: torch.Tensor, response_mask: torch.Tensor,
) -> torch.Tensor:
    """The value model's score head on every position's hidden state, for each response token: [B, T]."""
    input_ids = torch.cat([query, response], dim=1)
    attention_mask = torch.cat([query_mask, response_mask], dim=1)
    backbone = getattr(value_model, value_model.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=_position_ids(attention_mask), use_cache=False).last_hidden_state
    width = query.size(1)
    return value_model.score(hidden[:, width - 1:-1]).squeeze(-1).float()


def _tied_lm_head(model) -> bool:
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    return head is not None and head.weight is embed.weight


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    """One batch of experience, every tensor [B, T] over response tokens unless noted."""

    query: torch.Tensor  # [B, Lq], left-padded
    query_mask: torch.Tensor
    response: torch.Tensor  # right-padded, EOS kept
    mask: torch.Tensor  # float, 1 on real response tokens
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def _prompt_stream(prompts: list[Conversation], seed: int):
    """Indices of `prompts`, reshuffled (seeded) every time the whole set has been used."""
    rng = random.Random(seed)
    while True:
        order = list(range(len(prompts)))
        rng.shuffle(order)
        yield from order


def _write_jsonl(path: Path, record: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def train_ppo(
    args: PPOArgs,
    prompts: list[Conversation],
    reward_fn: RewardFn,
    on_log: Callable[[dict], None] | None = None,
    progress: bool = True,
    runtime: Runtime | None = None,
) -> PPOResult:
    """Run PPO on `prompts` against `reward_fn`, save the policy to `args.out_dir`, return metrics.

    `reward_fn(conversations, response_texts) -> Tensor[B]` scores each response (e.g.
    `training.reward.RewardScorer`). `on_log(record)` is called with each logged update's record.
    """
    if not prompts:
        raise ValueError("train_ppo needs at least one prompt")
    if Path(args.out_dir).exists():
        raise FileExistsError(args.out_dir)
    runtime = runtime or Runtime.detect()
    device = runtime.device
    set_seed(args.seed)

    # ---- models: trainable policy, frozen reference copy, value model from the reward model ----
    tokenizer = load_tokenizer(args.policy_path)
    policy = load_causal_lm(args.policy_path, runtime)
    policy.eval()  # no dropout anywhere: old and new log-probabilities must agree at the first step
    reference = copy.deepcopy(policy).requires_grad_(False)
    value_model = load_reward_model(args.value_model_path, runtime)
    value_model.eval()
    if args.trainable_layers is not None:
        policy_heads = [] if _tied_lm_head(policy) else [policy.get_output_embeddings()]
        freeze_all_but_top(policy, args.trainable_layers, policy_heads)
        freeze_all_but_top(value_model, args.trainable_layers, [value_model.score])
    if args.lora_r > 0:
        from peft import LoraConfig, get_peft_model

        policy = get_peft_model(policy, LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.0,
                                                   target_modules="all-linear", task_type="CAUSAL_LM"))
    params = [p for p in list(policy.parameters()) + list(value_model.parameters()) if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.learning_rate, eps=1e-5)
    kl_ctl = (AdaptiveKLController(args.kl_coef, args.target_kl, args.kl_horizon) if args.adaptive_kl
              else FixedKLController(args.kl_coef))

    encoded = encode_prompts(tokenizer, prompts)
    if args.max_prompt_tokens:
        encoded = [ids[-args.max_prompt_tokens:] for ids in encoded]
    stream = _prompt_stream(prompts, args.seed)
    metrics_path = Path(args.metrics_path) if args.metrics_path else None
    if metrics_path:
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        metrics_path.write_text("")

    num_updates = args.num_updates
    history: list[dict] = []
    first_score: float | None = None
    started = time.perf_counter()
    bar = tqdm(range(1, num_updates + 1), desc="ppo", unit="update", disable=not progress)
    for update in bar:
        t0 = time.perf_counter()
        lr = args.learning_rate * (1.0 - (update - 1) / num_updates if args.anneal_lr else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # ---- 1. rollout ----
        batch_idx = [next(stream) for _ in range(args.rollout_batch_size)]
        batch_prompts = [prompts[i] for i in batch_idx]
        sampled = sample_batch(policy, tokenizer, [encoded[i] for i in batch_idx],
                               max_new_tokens=args.max_new_tokens, temperature=args.temperature)
        query, query_mask, response = sampled.query, sampled.query_mask, sampled.response
        mask = sampled.response_mask.float()
        lengths = sampled.response_mask.sum(1)
        t_generated = time.perf_counter()

        # ---- 2. score ----
        texts = tokenizer.batch_decode(
            [row[:n].tolist() for row, n in zip(response, lengths)], skip_special_tokens=True
        )
        raw_scores = torch.as_tensor(reward_fn(batch_prompts, texts), dtype=torch.float32).reshape(-1).to(device)
        if raw_scores.numel() != len(texts):
            raise ValueError(f"reward_fn returned {raw_scores.numel()} scores for {len(texts)} responses")
        scores = apply_missing_eos_penalty(raw_scores, sampled.finished, args.missing_eos_penalty)
        t_scored = time.perf_counter()

        # ---- 3. log-probabilities and values of the rollout, no gradients ----
        with torch.no_grad():
            logprobs = logprobs_from_logits(
                policy_forward(policy, query, query_mask, response, sampled.response_mask, args.temperature), response)
            ref_logprobs = logprobs_from_logits(
                policy_forward(reference, query, query_mask, response, sampled.response_mask, args.temperature),
                response)
            values = value_forward(value_model, query, query_mask, response, sampled.response_mask)
            logprobs, ref_logprobs, values = logprobs * mask, ref_logprobs * mask, values * mask

            # ---- 4. per-token rewards: KL penalty everywhere, the score at the last real token ----
            kl = kl_penalty(logprobs, ref_logprobs, args.kl_estimator) * mask
            non_score_rewards = -kl_ctl.value * kl
            rewards = non_score_rewards.clone()
            last = (lengths - 1).clamp(min=0)
            rewards[torch.arange(len(last), device=device), last] += scores
            if args.whiten_rewards:
                rewards = masked_whiten(rewards, mask, shift_mean=False) * mask

            # ---- 5. advantages and returns ----
            advantages, returns = gae(rewards, values, mask, args.gamma, args.lam)
            advantages = masked_whiten(advantages, mask) * mask
        rollout = Rollout(query, query_mask, response, mask, logprobs, values, advantages, returns)
        t_evaluated = time.perf_counter()

        # ---- 6. PPO epochs over minibatches ----
        stats: dict[str, list[float]] = {k: [] for k in
                                         ("policy_loss", "value_loss", "clipfrac", "vf_clipfrac", "approxkl", "entropy")}
        for _ in range(args.ppo_epochs):
            order = torch.randperm(args.rollout_batch_size)
            for start in range(0, args.rollout_batch_size, args.minibatch_size):
                mb = order[start:start + args.minibatch_size].to(device)
                step_stats = _ppo_step(args, policy, value_model, optimizer, params, rollout, mb)
                for key, value in step_stats.items():
                    stats[key].append(value)
        t_trained = time.perf_counter()

        # ---- 7. KL controller, logging ----
        mean_kl = float(kl.sum(1).mean())
        record = {
            "step": update,
            "total": num_updates,
            "episodes": update * args.rollout_batch_size,
            "score": float(raw_scores.mean()),
            "score_std": float(raw_scores.std()) if raw_scores.numel() > 1 else 0.0,
            "penalized_score": float(scores.mean()),
            "non_score_reward": float(non_score_rewards.sum(1).mean()),
            "rlhf_reward": float(scores.mean() + non_score_rewards.sum(1).mean()),
            "kl": mean_kl,
            **{key: sum(v) / len(v) for key, v in stats.items()},
            "response_length": float(lengths.float().mean()),
            "eos_fraction": float(sampled.finished.float().mean()),
            "kl_coef": kl_ctl.value,
            "learning_rate": lr,
            "seconds": time.perf_counter() - t0,
            "seconds_generate": t_generated - t0,
            "seconds_score": t_scored - t_generated,
            "seconds_evaluate": t_evaluated - t_scored,
            "seconds_train": t_trained - t_evaluated,
        }
        kl_ctl.update(mean_kl, args.rollout_batch_size)
        if first_score is None:
            first_score = record["score"]
        if update % args.logging_steps == 0 or update == num_updates:
            history.append(record)
            if metrics_path:
                _write_jsonl(metrics_path, record)
            if on_log:
                on_log(record)
            bar.set_postfix(score=f"{record['score']:.3f}", kl=f"{record['kl']:.3f}",
                            len=f"{record['response_length']:.1f}", s=f"{record['seconds']:.1f}")
        log.info("ppo update %d/%d: %s", update, num_updates, record)

    # ---- save the policy ----
    if args.lora_r > 0:
        policy = policy.merge_and_unload()
    checkpoint = save_model(policy, tokenizer, args.out_dir)
    last_record = history[-1]
    metrics = {
        "updates": num_updates,
        "episodes": last_record["episodes"],
        "reward_start": first_score,
        "reward_end": last_record["score"],
        "kl_end": last_record["kl"],
        "eos_fraction_end": last_record["eos_fraction"],
        "response_length_end": last_record["response_length"],
        "value_loss_end": last_record["value_loss"],
        "policy_loss_end": last_record["policy_loss"],
        "kl_coef_end": kl_ctl.value,
        "seconds_total": time.perf_counter() - started,
        "seconds_per_update": (time.perf_counter() - started) / num_updates,
        "args": asdict(args),
    }
    return PPOResult(checkpoint=checkpoint, metrics=metrics, history=history)


def _ppo_step(args: PPOArgs, policy, value_model, optimizer, params, rollout: Rollout, mb: torch.Tensor) -> dict:
    """One gradient step on the minibatch `mb` (row indices of the rollout); returns its statistics."""
    query, query_mask, response = rollout.query[mb], rollout.query_mask[mb], rollout.response[mb]
    mask = rollout.mask[mb]
    response_mask = mask.long()
    logits = policy_forward(policy, query, query_mask, response, response_mask, args.temperature)
    new_logprobs = logprobs_from_logits(logits, response)
    new_values = value_forward(value_model, query, query_mask, response, response_mask)
    old_logprobs = rollout.logprobs[mb]
    pg_loss, clipfrac = policy_loss(new_logprobs, old_logprobs, rollout.advantages[mb], mask, args.cliprange)
    vf_loss, vf_clipfrac = value_loss(new_values, rollout.values[mb], rollout.returns[mb], mask,
                                      args.cliprange_value)
    loss = pg_loss + args.vf_coef * vf_loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
    optimizer.step()
    with torch.no_grad():
        approxkl = 0.5 * masked_mean((new_logprobs - old_logprobs) ** 2, mask)
        entropy = masked_mean(entropy_from_logits(logits.detach()), mask)
    return {"policy_loss": float(pg_loss.detach()), "value_loss": float(vf_loss.detach()), "clipfrac": float(clipfrac),
            "vf_clipfrac": float(vf_clipfrac), "approxkl": float(approxkl), "entropy": float(entropy)}
