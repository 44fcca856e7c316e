"""PPO for causal language models, readable top to bottom (in the spirit of CleanRL).

The algorithm follows "The N+ Implementation Details of RLHF with PPO" (Huang et al. 2024):

1. Rollout. Sample `rollout_batch_size` prompts, render them with the chat template, sample one
   response each with `training.generate.sample_batch` (full softmax at `temperature`, truncated
   after the first EOS, right-padded).
2. Score. The reward model reads each response at its EOS (or `reward_fn(prompts, texts)` scores
   the decoded texts). A response that ran out of tokens is closed with an EOS for scoring
   (`close_truncated`): the reward model saw every reply of its training data closed, and reading
   it at a mid-reply token asks it something it was never taught. Responses that never emitted
   EOS lose `missing_eos_penalty` (0 or None turns that off).
3. Evaluate the rollout without gradients: log-probabilities of the sampled tokens under the
   policy and the frozen reference (both from logits / temperature, the distribution actually
   sampled from), and per-token values from the value model.
4. Rewards: -kl_coef * KL per token, plus the score on the last real token (the EOS).
5. GAE advantages (gamma, lam) and returns; advantages whitened over the real tokens.
6. `ppo_epochs` passes over shuffled minibatches: clipped policy loss + vf_coef * clipped value
   loss, one Adam step (eps 1e-5) per minibatch after clipping the gradient norm.
7. Optionally adapt the KL coefficient (Ziegler et al. 2019); log; repeat.

What makes it fast: a shared frozen trunk (`training.trunk`). Policy, reference, value model and
reward model come from one base with all but the top `trainable_layers` blocks frozen, so their
lower blocks are the same weights. Each rollout runs those blocks once; the four models then
run only their own top blocks on the cached hidden states, in step 3 and in every minibatch of
every PPO epoch (the cache cannot go stale: nothing below the trainable blocks changes). The
reward model scores the sampled token ids directly (with the chat template's end-of-turn tokens
appended, as it was trained), so no text is decoded and tokenized again. The sharing is checked,
not assumed: models whose blocks differ simply get a shallower trunk.

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
    Runtime,
    decoder_layers,
    freeze_all_but_top,
    load_causal_lm,
    load_reward_model,
    load_tokenizer,
    save_model,
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
from training.reward import reward_offset_of
from training.stopping import Stopped  # noqa: F401  (re-exported: training.ppo.Stopped)
from training.trunk import SharedTrunk, Top, TrunkState, position_ids_from_mask, shared_depth

log = logging.getLogger(__name__)

RewardFn = Callable[[list[Conversation], list[str]], "torch.Tensor"]
LORA_TARGETS = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
]  # a block's linear maps


@dataclass
class PPOArgs:
    """PPO hyper-parameters (every field is a `python -m training ppo --FIELD` flag). Measured costs
    are in benchmarks/README.md."""

    policy_path: str = field(
        metadata={"help": "Causal LM checkpoint directory to start from (also gives the tokenizer)."}
    )
    out_dir: str = field(metadata={"help": "Where the trained policy is saved (must not exist yet)."})
    reward_model_path: str | None = field(
        default=None,
        metadata={
            "help": "Reward-model checkpoint (sequence classification, 1 label) that scores the responses; "
            "not needed when a reward function is passed in code."
        },
    )
    value_model_path: str | None = field(
        default=None,
        metadata={
            "help": "Checkpoint the value model starts from; default: the reward model (the paper's choice)."
        },
    )
    metrics_path: str | None = field(
        default=None,
        metadata={"help": "JSON-lines file that gets one line of metrics per logged PPO update."},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seeds prompt order, sampling and minibatches; same seed, same run on CPU."},
    )
    total_episodes: int = field(default=64, metadata={"help": "Responses sampled over the whole run."})
    rollout_batch_size: int = field(
        default=16, metadata={"help": "Prompts sampled per rollout (one PPO update each)."}
    )
    minibatch_size: int = field(default=8, metadata={"help": "Responses per gradient step inside an update."})
    forward_batch_size: int = field(
        default=16,
        metadata={
            "help": "Rows per chunk of the no-gradient passes over a rollout (bounds memory of the logits)."
        },
    )
    ppo_epochs: int = field(default=2, metadata={"help": "Passes (K) over each rollout's minibatches."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Adam learning rate for policy and value."})
    anneal_lr: bool = field(
        default=False, metadata={"help": "Decay the learning rate linearly to 0 over the run."}
    )
    max_new_tokens: int = field(
        default=48, metadata={"help": "Most tokens sampled per response (EOS included)."}
    )
    max_prompt_tokens: int | None = field(
        default=512,
        metadata={"help": "Keep only the last N tokens of longer rendered prompts; None keeps all."},
    )
    temperature: float = field(
        default=0.7,
        metadata={"help": "Sampling temperature; log-probabilities use the same logits / temperature."},
    )
    kl_coef: float = field(
        default=0.05, metadata={"help": "Weight of the per-token KL penalty to the reference."}
    )
    adaptive_kl: bool = field(
        default=False, metadata={"help": "Adapt kl_coef towards target_kl (Ziegler et al. 2019)."}
    )
    target_kl: float = field(default=6.0, metadata={"help": "Adaptive KL: target KL per response, in nats."})
    kl_horizon: int = field(
        default=10000, metadata={"help": "Adaptive KL: horizon, in episodes, of the controller."}
    )
    kl_estimator: str = field(
        default="k1", metadata={"help": "Per-token KL estimator: k1 (log p - log q) or k3."}
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount factor of GAE."})
    lam: float = field(default=0.95, metadata={"help": "Lambda of GAE."})
    cliprange: float = field(default=0.2, metadata={"help": "Clip range of the policy ratio."})
    cliprange_value: float = field(default=0.2, metadata={"help": "Clip range of the value update."})
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss in the total loss."})
    max_grad_norm: float = field(
        default=1.0, metadata={"help": "Clip the joint policy+value gradient norm to this."}
    )
    missing_eos_penalty: float | None = field(
        default=1.0,
        metadata={"help": "Subtracted from the score of responses without EOS; None or 0 turns it off."},
    )
    close_truncated: bool = field(
        default=True,
        metadata={
            "help": "Score a response that ran out of tokens as if it ended there (EOS appended), as the reward "
            "model saw every reply in training; off: read the reward at its last sampled token (TRL's way)."
        },
    )
    whiten_rewards: bool = field(
        default=False, metadata={"help": "Whiten per-token rewards (mean kept) before GAE."}
    )
    trainable_layers: int | None = field(
        default=None,
        metadata={
            "help": "Train only the top N transformer layers (+ final norm, value head) of policy and value; "
            "the frozen blocks below are computed once per rollout for all four models. None trains all."
        },
    )
    lora_r: int = field(
        default=0, metadata={"help": "LoRA rank for the policy (peft); 0 trains the weights directly."}
    )
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha, when lora_r > 0."})
    logging_steps: int = field(
        default=1, metadata={"help": "Log every N PPO updates (the last one is always logged)."}
    )

    def __post_init__(self):
        if self.temperature <= 0:
            raise ValueError("PPO needs temperature > 0: it samples and scores logits / temperature")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"kl_estimator must be k1 or k3, not {self.kl_estimator!r}")
        if not 0 < self.minibatch_size <= self.rollout_batch_size:
            raise ValueError("minibatch_size must be between 1 and rollout_batch_size")
        if self.logging_steps < 1 or self.forward_batch_size < 1:
            raise ValueError("logging_steps and forward_batch_size must be >= 1")
        self.value_model_path = self.value_model_path or self.reward_model_path
        if not self.value_model_path:
            raise ValueError("PPO needs a value model: give value_model_path or reward_model_path")

    @property
    def num_updates(self) -> int:
        return math.ceil(self.total_episodes / self.rollout_batch_size)


@dataclass
class PPOResult:
    checkpoint: Path  # the saved policy (loads with training.models.load_causal_lm)
    metrics: dict  # summary: reward_start, reward_end, kl_end, ...
    history: list[dict] = field(default_factory=list)  # one record per logged update


# --------------------------------------------------------------------------------------------
# Models: one trainable policy, its frozen reference, the value model and the reward model,
# all as tops over one shared trunk
# --------------------------------------------------------------------------------------------


@dataclass
class PPOModels:
    runtime: Runtime
    tokenizer: object
    policy: torch.nn.Module  # the whole causal LM that trains and gets saved
    sampler: torch.nn.Module  # what samples: the policy, or its copy in the runtime's inference dtype
    sampler_trunk: torch.nn.Module | None  # the sampler's module whose output is the trunk's (captured)
    value_model: torch.nn.Module
    trunk: SharedTrunk
    policy_top: Top
    reference: Top
    value_top: Top
    reward_top: Top | None  # None when a reward function scores the texts instead
    reward_offset: float
    params: list[torch.nn.Parameter]  # what the optimizer trains


def _tied_lm_head(model) -> bool:
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    return head is not None and head.weight is embed.weight


def load_models(args: PPOArgs, runtime: Runtime, with_reward_model: bool) -> PPOModels:
    """Policy, reference, value and (optionally) reward model, split over the deepest trunk they share."""
    tokenizer = load_tokenizer(args.policy_path)
    policy = load_causal_lm(args.policy_path, runtime)
    policy.eval()  # no dropout anywhere: old and new log-probabilities must agree at the first step
    value_model = load_reward_model(args.value_model_path, runtime)
    value_model.eval()
    reward_model = None
    if with_reward_model:
        reward_model = load_reward_model(args.reward_model_path, runtime).eval().requires_grad_(False)
    policy_heads = [] if _tied_lm_head(policy) else [policy.get_output_embeddings()]
    freeze_all_but_top(policy, args.trainable_layers, policy_heads)
    freeze_all_but_top(value_model, args.trainable_layers, [value_model.score])

    # The trunk: the bottom blocks every model holds identically and nobody trains. Training
    # everything (trainable_layers None, no LoRA) trains the embeddings too: then nothing is
    # shared and each model embeds the ids itself.
    layers = len(decoder_layers(policy))
    own = args.trainable_layers is None and args.lora_r == 0
    trainable = layers if args.trainable_layers is None else min(args.trainable_layers, layers)
    sharing = [policy, value_model] + ([reward_model] if reward_model is not None else [])
    depth = 0 if own else shared_depth(sharing, layers - trainable)
    if depth < 0:
        raise ValueError(
            "the policy, value and reward models do not share their embeddings: train the reward "
            "model from the policy (prefloop does), or score texts with a reward function"
        )
    trunk = SharedTrunk(policy, depth, used=not own)
    reference = Top.frozen_copy(policy, depth, own)
    if args.lora_r > 0:
        from peft import LoraConfig, get_peft_model

        policy = get_peft_model(
            policy,
            LoraConfig(
                r=args.lora_r,
                lora_alpha=args.lora_alpha,
                lora_dropout=0.0,
                target_modules=LORA_TARGETS,
                layers_to_transform=list(range(depth, layers)),
                task_type="CAUSAL_LM",
            ),
        )
    policy_top = Top(policy.get_base_model() if args.lora_r > 0 else policy, depth, own)
    value_top = Top(value_model, depth, own)
    reward_top = Top(reward_model, depth, own) if reward_model is not None else None
    _verify_split(
        tokenizer,
        trunk,
        [(policy, policy_top), (value_model, value_top)]
        + ([(reward_model, reward_top)] if reward_model is not None else []),
        runtime,
    )
    params = [p for p in list(policy.parameters()) + list(value_model.parameters()) if p.requires_grad]
    # Sampling reads every weight once per token: on hardware that multiplies bf16 fast, a bf16 copy
    # samples nearly twice as fast. Its trained weights are refreshed after every update (`sync_sampler`).
    sampler, sampler_trunk = policy, trunk.output_module
    if runtime.inference_dtype != runtime.dtype and args.lora_r == 0:
        sampler = copy.deepcopy(policy).to(runtime.inference_dtype).eval().requires_grad_(False)
        sampler_trunk = SharedTrunk(sampler, depth, used=not own).output_module
    log.info(
        "ppo: shared trunk of %d of %d blocks, %d trainable tensors, sampling in %s",
        depth,
        layers,
        len(params),
        runtime.inference_dtype if sampler is not policy else runtime.dtype,
    )
    return PPOModels(
        runtime=runtime,
        tokenizer=tokenizer,
        policy=policy,
        sampler=sampler,
        sampler_trunk=sampler_trunk,
        value_model=value_model,
        trunk=trunk,
        policy_top=policy_top,
        reference=reference,
        value_top=value_top,
        reward_top=reward_top,
        reward_offset=reward_offset_of(args.reward_model_path) if reward_model is not None else 0.0,
        params=params,
    )


@torch.no_grad()
def sync_sampler(models: PPOModels) -> None:
    """Copy the policy's trained weights into the sampler (a no-op when the policy samples itself)."""
    if models.sampler is models.policy:
        return
    for trained, copied in zip(models.policy.parameters(), models.sampler.parameters()):
        if trained.requires_grad:
            copied.copy_(trained)


def _verify_split(tokenizer, trunk: SharedTrunk, pairs, runtime: Runtime) -> None:
    """The split forward must equal each model's own forward (raises otherwise)."""
    ids = torch.tensor(
        [tokenizer("check the split forward", add_special_tokens=False)["input_ids"][:8]],
        device=runtime.device,
    )
    mask = torch.ones_like(ids)
    tolerance = 1e-3 if runtime.dtype == torch.float32 else 5e-2
    for model, top in pairs:
        top.verify(model, trunk, ids, mask, atol=tolerance)


# --------------------------------------------------------------------------------------------
# Rollouts
# --------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    """One batch of experience; tensors are [B, T] over response tokens unless noted."""

    state: TrunkState  # the trunk's output over query + response, [B, L, H]
    width: int  # query width: response token t is predicted at position width + t - 1
    response: torch.Tensor  # right-padded, EOS kept
    mask: torch.Tensor  # float, 1 on real response tokens
    lengths: torch.Tensor  # [B] real response tokens
    finished: torch.Tensor  # [B] bool, the response ended with EOS
    raw_scores: torch.Tensor  # [B] the reward, before the missing-EOS penalty
    scores: torch.Tensor  # [B] after it
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    kl: torch.Tensor  # per-token KL estimate
    non_score_rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    seconds: dict[str, float]  # generate, score, evaluate


def _response_hidden(top: Top, state: TrunkState, width: int, length: int) -> torch.Tensor:
    """Final hidden states at the positions that predict response tokens 0..length-1: [B, length, H]."""
    return top.hidden(state)[:, width - 1 : width - 1 + length]


def token_logprobs(top: Top, state: TrunkState, width: int, response: torch.Tensor, temperature: float):
    """Log-probabilities of `response` under `top` at `temperature`, with the logits: ([B, T], [B, T, V])."""
    logits = top.head(_response_hidden(top, state, width, response.size(1))) / temperature
    return logprobs_from_logits(logits, response), logits


def token_values(top: Top, state: TrunkState, width: int, length: int) -> torch.Tensor:
    """The value head at every position that predicts a response token: [B, T], float32."""
    return top.head(_response_hidden(top, state, width, length)).squeeze(-1).float()


def _in_chunks(fn, state: TrunkState, chunk: int) -> torch.Tensor:
    """`fn(rows_of_state, row_index)` over row chunks of a rollout, concatenated (bounds the logits' memory)."""
    rows, device = state.input_ids.shape[0], state.input_ids.device
    parts = [
        fn(state.rows(torch.arange(s, min(s + chunk, rows), device=device)), s) for s in range(0, rows, chunk)
    ]
    return torch.cat(parts)


@torch.no_grad()
def collect_rollout(
    args: PPOArgs,
    models: PPOModels,
    prompts: list[Conversation],
    query_ids: list[list[int]],
    reward_fn: RewardFn | None,
    kl_coef: float,
) -> Rollout:
    """Sample, score, and evaluate one batch: everything PPO needs before its gradient steps."""
    tokenizer = models.tokenizer
    t0 = time.perf_counter()
    # Sampling runs the trunk over every position anyway: keep its output instead of recomputing it,
    # and keep the log-probability of each sampled token (the policy's "old" log-probabilities).
    sampled = sample_batch(
        models.sampler,
        tokenizer,
        query_ids,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        capture=models.sampler_trunk,
        close_with=tokenizer.eos_token_id if args.close_truncated else None,
    )
    response, lengths, finished = sampled.response, sampled.response_mask.sum(1), sampled.finished
    mask = sampled.response_mask.float()
    width, length = sampled.query.size(1), response.size(1)
    input_ids = torch.cat([sampled.query, response], 1)
    attention_mask = torch.cat([sampled.query_mask, sampled.response_mask], 1)
    hidden = sampled.hidden
    if args.close_truncated:
        # One more column: the EOS that closes each reply that ran out of tokens (padding elsewhere).
        # Only the reward model reads it; every other position is causal and never sees it.
        closing = (~finished).long()[:, None]
        input_ids = torch.cat(
            [input_ids, torch.where(closing.bool(), tokenizer.eos_token_id, tokenizer.pad_token_id)], 1
        )
        attention_mask = torch.cat([attention_mask, closing], 1)
        if hidden is not None:
            hidden = torch.cat([hidden, sampled.closing_hidden], 1)
    state = TrunkState(input_ids, attention_mask, position_ids_from_mask(attention_mask), hidden)
    t_generated = time.perf_counter()

    # ---- score: the reward model reads each response at its EOS (appended to unfinished ones when
    # closing them), where it read every reply in training ----
    last = (lengths - 1).clamp(min=0)
    read_at = width + last + ((~finished).long() if args.close_truncated else 0)
    if models.reward_top is not None:

        def read_reward(rows: TrunkState, start: int) -> torch.Tensor:
            hidden = models.reward_top.hidden(rows)
            at = read_at[start : start + hidden.size(0)]
            return models.reward_top.head(hidden[torch.arange(hidden.size(0)), at]).squeeze(-1).float()

        raw_scores = _in_chunks(read_reward, state, args.forward_batch_size) - models.reward_offset
    else:
        texts = tokenizer.batch_decode(
            [row[:n].tolist() for row, n in zip(response, lengths)], skip_special_tokens=True
        )
        raw_scores = torch.as_tensor(reward_fn(prompts, texts), dtype=torch.float32).reshape(-1)
        if raw_scores.numel() != len(texts):
            raise ValueError(f"reward_fn returned {raw_scores.numel()} scores for {len(texts)} responses")
    raw_scores = raw_scores.to(response.device)
    scores = apply_missing_eos_penalty(raw_scores, finished, args.missing_eos_penalty)
    t_scored = time.perf_counter()

    # ---- log-probabilities of policy and reference, values ----
    def policy_logprobs(rows: TrunkState, s: int) -> torch.Tensor:
        return token_logprobs(
            models.policy_top, rows, width, response[s : s + rows.input_ids.size(0)], args.temperature
        )[0]

    # the sampler's own are the policy's unless it samples in another precision
    logprobs = (
        sampled.logprobs
        if models.sampler is models.policy
        else _in_chunks(policy_logprobs, state, args.forward_batch_size)
    )
    ref_logprobs = _in_chunks(
        lambda rows, s: token_logprobs(
            models.reference, rows, width, response[s : s + rows.input_ids.size(0)], args.temperature
        )[0],
        state,
        args.forward_batch_size,
    )
    values = _in_chunks(
        lambda rows, s: token_values(models.value_top, rows, width, length), state, args.forward_batch_size
    )
    logprobs, ref_logprobs, values = logprobs * mask, ref_logprobs * mask, values * mask

    # ---- per-token rewards: KL penalty everywhere, the score at the last real token ----
    kl = kl_penalty(logprobs, ref_logprobs, args.kl_estimator) * mask
    non_score_rewards = -kl_coef * kl
    rewards = non_score_rewards.clone()
    rewards[torch.arange(len(last), device=rewards.device), last] += scores
    if args.whiten_rewards:
        rewards = masked_whiten(rewards, mask, shift_mean=False) * mask

    # ---- advantages and returns ----
    advantages, returns = gae(rewards, values, mask, args.gamma, args.lam)
    advantages = masked_whiten(advantages, mask) * mask
    seconds = {
        "generate": t_generated - t0,
        "score": t_scored - t_generated,
        "evaluate": time.perf_counter() - t_scored,
    }
    return Rollout(
        state,
        width,
        response,
        mask,
        lengths,
        finished,
        raw_scores,
        scores,
        logprobs,
        ref_logprobs,
        values,
        kl,
        non_score_rewards,
        advantages,
        returns,
        seconds,
    )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


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
    reward_fn: RewardFn | None = None,
    on_log: Callable[[dict], None] | None = None,
    progress: bool = True,
    runtime: Runtime | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PPOResult:
    """Run PPO on `prompts`, save the policy to `args.out_dir`, return metrics.

    The reward is the reward model at `args.reward_model_path`, or `reward_fn(conversations,
    response_texts) -> Tensor[B]` when given. `on_log(record)` is called with each logged update's
    record; `should_stop()` is asked between gradient steps, and True raises `Stopped`.
    """
    if not prompts:
        raise ValueError("train_ppo needs at least one prompt")
    if reward_fn is None and not args.reward_model_path:
        raise ValueError("train_ppo needs a reward: reward_model_path or reward_fn")
    if Path(args.out_dir).exists():
        raise FileExistsError(args.out_dir)
    runtime = runtime or Runtime.detect()
    set_seed(args.seed)

    models = load_models(args, runtime, with_reward_model=reward_fn is None)
    optimizer = torch.optim.Adam(models.params, lr=args.learning_rate, eps=1e-5)
    kl_ctl = (
        AdaptiveKLController(args.kl_coef, args.target_kl, args.kl_horizon)
        if args.adaptive_kl
        else FixedKLController(args.kl_coef)
    )

    encoded = encode_prompts(models.tokenizer, prompts)
    if args.max_prompt_tokens:
        encoded = [ids[-args.max_prompt_tokens :] for ids in encoded]
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

        # ---- 1-5. rollout: sample, score, evaluate, advantages ----
        batch_idx = [next(stream) for _ in range(args.rollout_batch_size)]
        with runtime.autocast():
            rollout = collect_rollout(
                args,
                models,
                [prompts[i] for i in batch_idx],
                [encoded[i] for i in batch_idx],
                reward_fn,
                kl_ctl.value,
            )
        t_rollout = time.perf_counter()

        # ---- 6. PPO epochs over minibatches ----
        stats: dict[str, list[float]] = {
            k: [] for k in ("policy_loss", "value_loss", "clipfrac", "vf_clipfrac", "approxkl", "entropy")
        }
        for _ in range(args.ppo_epochs):
            order = torch.randperm(args.rollout_batch_size)
            for start in range(0, args.rollout_batch_size, args.minibatch_size):
                if should_stop is not None and should_stop():
                    raise Stopped(f"stopped at update {update} of {num_updates}")
                mb = order[start : start + args.minibatch_size].to(rollout.response.device)
                step_stats = ppo_step(args, models, optimizer, rollout, mb, with_entropy=not stats["entropy"])
                for key, value in step_stats.items():
                    stats[key].append(value)
        sync_sampler(models)
        t_trained = time.perf_counter()

        # ---- 7. KL controller, logging ----
        mean_kl = float(rollout.kl.sum(1).mean())
        raw = rollout.raw_scores
        record = {
            "step": update,
            "total": num_updates,
            "episodes": update * args.rollout_batch_size,
            "score": float(raw.mean()),
            "score_std": float(raw.std()) if raw.numel() > 1 else 0.0,
            "penalized_score": float(rollout.scores.mean()),
            "non_score_reward": float(rollout.non_score_rewards.sum(1).mean()),
            "rlhf_reward": float(rollout.scores.mean() + rollout.non_score_rewards.sum(1).mean()),
            "kl": mean_kl,
            **{key: sum(v) / len(v) for key, v in stats.items()},
            "response_length": float(rollout.lengths.float().mean()),
            "eos_fraction": float(rollout.finished.float().mean()),
            "kl_coef": kl_ctl.value,
            "learning_rate": lr,
            "seconds": time.perf_counter() - t0,
            **{f"seconds_{name}": value for name, value in rollout.seconds.items()},
            "seconds_train": t_trained - t_rollout,
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
            bar.set_postfix(
                score=f"{record['score']:.3f}",
                kl=f"{record['kl']:.3f}",
                len=f"{record['response_length']:.1f}",
                s=f"{record['seconds']:.1f}",
            )
        log.info("ppo update %d/%d: %s", update, num_updates, record)

    # ---- save the policy ----
    policy = models.policy.merge_and_unload() if args.lora_r > 0 else models.policy
    checkpoint = save_model(policy, models.tokenizer, args.out_dir)
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
        "shared_trunk_blocks": models.trunk.depth,
        "seconds_total": time.perf_counter() - started,
        "seconds_per_update": (time.perf_counter() - started) / num_updates,
        "args": asdict(args),
    }
    return PPOResult(checkpoint=checkpoint, metrics=metrics, history=history)


def ppo_step(
    args: PPOArgs, models: PPOModels, optimizer, rollout: Rollout, mb: torch.Tensor, with_entropy: bool = True
) -> dict:
    """One gradient step on the minibatch `mb` (row indices of the rollout); returns its statistics.

    The policy's entropy (a diagnostic, a full softmax over the vocabulary) only `with_entropy`."""
    state = rollout.state.rows(mb)
    response, mask = rollout.response[mb], rollout.mask[mb]
    with models.runtime.autocast():
        new_logprobs, logits = token_logprobs(
            models.policy_top, state, rollout.width, response, args.temperature
        )
        new_values = token_values(models.value_top, state, rollout.width, response.size(1))
    old_logprobs = rollout.logprobs[mb]
    pg_loss, clipfrac = policy_loss(new_logprobs, old_logprobs, rollout.advantages[mb], mask, args.cliprange)
    vf_loss, vf_clipfrac = value_loss(
        new_values, rollout.values[mb], rollout.returns[mb], mask, args.cliprange_value
    )
    loss = pg_loss + args.vf_coef * vf_loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(models.params, args.max_grad_norm)
    optimizer.step()
    stats = {
        "policy_loss": float(pg_loss.detach()),
        "value_loss": float(vf_loss.detach()),
        "clipfrac": float(clipfrac),
        "vf_clipfrac": float(vf_clipfrac),
    }
    with torch.no_grad():
        stats["approxkl"] = float(0.5 * masked_mean((new_logprobs - old_logprobs) ** 2, mask))
        if with_entropy:
            stats["entropy"] = float(masked_mean(entropy_from_logits(logits.detach()), mask))
    return stats
