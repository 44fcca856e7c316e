"""PPO end to end on a tiny random model: it must actually learn, stay near the reference, and be
reproducible. A broken algorithm (say, the advantage's sign flipped) makes `test_reward_rises` fail.

The synthetic reward is the share of lowercase letters and spaces in the decoded response: the tiny
random model emits them about a third of the time (the rest is punctuation and stray bytes).
"""

import json
import math

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from tests.tiny_models import build_tiny_model
from training.forward import policy_forward, value_forward
from training.generate import encode_prompts, left_pad
from training.models import Runtime, load_causal_lm, load_reward_model, load_tokenizer
from training.ppo import PPOArgs, train_ppo
from training.ppo_math import logprobs_from_logits

CPU = Runtime.detect(prefer_cpu=True)
GOOD = set("abcdefghijklmnopqrstuvwxyz ")
PROMPTS = [
    [{"role": "user", "content": text}]
    for text in [
        "hello",
        "tell me a joke",
        "what is the sky",
        "write a poem",
        "why",
        "the fox",
        "paris",
        "cats",
    ]
]
TIME_KEYS = {"total", "seconds", "seconds_generate", "seconds_score", "seconds_evaluate", "seconds_train"}


def letter_share(prompts, texts):
    return torch.tensor([sum(ch in GOOD for ch in text) / max(len(text), 1) for text in texts])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and far more predictably on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(policy dir, value dir): a tiny causal LM and a 1-label classifier built from it."""
    root = tmp_path_factory.mktemp("ppo_tiny")
    policy_dir = build_tiny_model(root / "policy")
    tokenizer = load_tokenizer(policy_dir)
    value = AutoModelForSequenceClassification.from_pretrained(policy_dir, num_labels=1)
    value.config.pad_token_id = tokenizer.pad_token_id
    value.save_pretrained(root / "value")
    tokenizer.save_pretrained(root / "value")
    return policy_dir, root / "value"


def make_args(tiny, out_dir, **overrides) -> PPOArgs:
    policy_dir, value_dir = tiny
    fields = dict(
        policy_path=str(policy_dir),
        value_model_path=str(value_dir),
        out_dir=str(out_dir),
        seed=1,
        total_episodes=256,
        rollout_batch_size=32,
        minibatch_size=16,
        ppo_epochs=4,
        learning_rate=1e-2,
        max_new_tokens=6,
        temperature=0.7,
    )
    fields.update(overrides)
    return PPOArgs(**fields)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """8 PPO updates of 32 episodes (a few seconds on one core), with logs captured."""
    root = tmp_path_factory.mktemp("ppo_run")
    logged = []
    args = make_args(tiny, root / "policy", metrics_path=str(root / "metrics.jsonl"))
    result = train_ppo(args, PROMPTS, letter_share, on_log=logged.append, progress=False, runtime=CPU)
    return args, result, logged


@pytest.fixture(scope="module")
def control(tiny, tmp_path_factory):
    """The same run with learning rate 0: what the initial policy scores, over as many samples."""
    out = tmp_path_factory.mktemp("ppo_control") / "policy"
    args = make_args(tiny, out, learning_rate=0.0, missing_eos_penalty=None)
    return train_ppo(args, PROMPTS, letter_share, progress=False, runtime=CPU)


def test_reward_rises(trained, control):
    """PPO raises what it optimizes: the reward minus the missing-EOS penalty. The control runs with the
    penalty off, so its objective under the same penalty is recomputed from its EOS fraction."""
    args, result, _ = trained
    late = result.history[len(result.history) // 2 :]  # updates 5-8
    late_mean = sum(r["penalized_score"] for r in late) / len(late)
    penalty = args.missing_eos_penalty
    base = [r["score"] - penalty * (1.0 - r["eos_fraction"]) for r in control.history]
    base_mean = sum(base) / len(base)

    # Standard error of each mean from the per-response spread of the reward (32 responses an update)
    # plus the penalty's own (a Bernoulli of weight `penalty`).
    def variance(records) -> float:
        return (
            sum(
                r["score_std"] ** 2 + penalty**2 * r["eos_fraction"] * (1 - r["eos_fraction"])
                for r in records
            )
            / len(records)
            / (32 * len(records))
        )

    margin = 3 * math.sqrt(variance(late) + variance(control.history))
    assert late_mean > base_mean + max(margin, 0.1), (
        late_mean,
        base_mean,
        margin,
        [r["penalized_score"] for r in result.history],
    )
    # The lr-0 control never moves: KL to the reference stays exactly 0, its first update agrees with ours.
    assert all(r["kl"] == pytest.approx(0.0, abs=1e-5) for r in control.history)
    assert control.history[0]["score"] == pytest.approx(result.history[0]["score"])


def test_kl_stays_bounded_and_metrics_are_sane(trained):
    args, result, _ = trained
    assert len(result.history) == 8
    for record in result.history:
        for key, value in record.items():
            assert math.isfinite(value), (key, record)
        assert record["kl"] < 15.0  # nats per 6-token response; the KL penalty holds it near 5
        assert 0.0 <= record["clipfrac"] <= 1.0 and 0.0 <= record["vf_clipfrac"] <= 1.0
        assert 0.0 < record["entropy"] <= math.log(300) + 1e-3
        assert 1.0 <= record["response_length"] <= args.max_new_tokens
        assert record["kl_coef"] == args.kl_coef and record["learning_rate"] == args.learning_rate
        assert record["non_score_reward"] == pytest.approx(-args.kl_coef * record["kl"], abs=1e-5)
    assert result.history[0]["kl"] == pytest.approx(0.0, abs=1e-5)  # first rollout: policy == reference
    assert [r["episodes"] for r in result.history] == [32 * i for i in range(1, 9)]
    assert result.metrics["reward_start"] == result.history[0]["score"]
    assert result.metrics["reward_end"] == result.history[-1]["score"]
    assert result.metrics["kl_end"] == result.history[-1]["kl"]


def test_missing_eos_penalty_applied(trained, control):
    args, result, _ = trained
    for record in result.history:  # penalty 1.0 for every response that ran out of tokens
        expected = record["score"] - args.missing_eos_penalty * (1.0 - record["eos_fraction"])
        assert record["penalized_score"] == pytest.approx(expected, abs=1e-5)
    assert any(r["eos_fraction"] < 1.0 for r in result.history)
    for record in control.history:  # penalty off
        assert record["penalized_score"] == pytest.approx(record["score"], abs=1e-6)


def test_logs_reach_callback_and_metrics_file(trained):
    args, result, logged = trained
    assert logged == result.history
    lines = [json.loads(line) for line in open(args.metrics_path)]
    assert lines == result.history


def test_same_seed_same_run(tiny, trained, tmp_path):
    """Rerun the first two updates: same seed, identical numbers (the run length changes nothing)."""
    _, result, _ = trained
    again = train_ppo(
        make_args(tiny, tmp_path / "policy", total_episodes=64),
        PROMPTS,
        letter_share,
        progress=False,
        runtime=CPU,
    )
    strip = lambda r: {k: v for k, v in r.items() if k not in TIME_KEYS}  # noqa: E731
    assert [strip(r) for r in again.history] == [strip(r) for r in result.history[:2]]


def test_checkpoint_loads_and_changed(tiny, trained):
    _, result, _ = trained
    model = load_causal_lm(result.checkpoint, CPU)
    original = load_causal_lm(tiny[0], CPU)
    assert load_tokenizer(result.checkpoint).pad_token_id == load_tokenizer(tiny[0]).pad_token_id
    diffs = [float((a - b).detach().abs().max()) for a, b in zip(model.parameters(), original.parameters())]
    assert max(diffs) > 1e-3


def test_logprobs_and_values_ignore_padding(tiny):
    """A row's log-probabilities and values are the same alone and in a padded batch."""
    policy_dir, value_dir = tiny
    tokenizer = load_tokenizer(policy_dir)
    policy, value_model = load_causal_lm(policy_dir, CPU).eval(), load_reward_model(value_dir, CPU).eval()
    queries = encode_prompts(tokenizer, [PROMPTS[0], PROMPTS[2]])  # different lengths -> left padding
    query, query_mask = left_pad(queries, tokenizer.pad_token_id)
    response = torch.tensor([[40, 41, tokenizer.eos_token_id, tokenizer.pad_token_id], [50, 51, 52, 53]])
    response_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    with torch.no_grad():
        batch_lp = logprobs_from_logits(
            policy_forward(policy, query, query_mask, response, response_mask, 0.7), response
        )
        batch_v = value_forward(value_model, query, query_mask, response, response_mask)
        for row, ids in enumerate(queries):
            q = torch.tensor([ids])
            n = int(response_mask[row].sum())
            r = response[row : row + 1, :n]
            ones_q, ones_r = torch.ones_like(q), torch.ones_like(r)
            alone_lp = logprobs_from_logits(policy_forward(policy, q, ones_q, r, ones_r, 0.7), r)
            alone_v = value_forward(value_model, q, ones_q, r, ones_r)
            torch.testing.assert_close(batch_lp[row, :n], alone_lp[0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(batch_v[row, :n], alone_v[0], atol=1e-5, rtol=1e-4)
            # and the first response token's log-prob is read from the last query position
            full = policy(input_ids=torch.cat([q, r], 1)).logits[0, len(ids) - 1] / 0.7
            assert float(alone_lp[0, 0]) == pytest.approx(
                float(torch.log_softmax(full, -1)[r[0, 0]]), abs=1e-5
            )


def test_logprobs_match_the_sampler(tiny):
    """The log-probabilities the sampler records are PPO's recomputed logits / temperature, and the
    trunk it captures while sampling is what a fresh forward pass gives."""
    from training.generate import sample_batch
    from training.trunk import SharedTrunk

    policy_dir, _ = tiny
    tokenizer = load_tokenizer(policy_dir)
    policy = load_causal_lm(policy_dir, CPU).eval()
    queries = encode_prompts(tokenizer, PROMPTS[:3])
    trunk = SharedTrunk(policy, 1)
    torch.manual_seed(0)
    sampled = sample_batch(
        policy, tokenizer, queries, max_new_tokens=6, temperature=0.7, capture=trunk.output_module
    )
    with torch.no_grad():
        ours = logprobs_from_logits(
            policy_forward(
                policy, sampled.query, sampled.query_mask, sampled.response, sampled.response_mask, 0.7
            ),
            sampled.response,
        )
        fresh = trunk(
            torch.cat([sampled.query, sampled.response], 1),
            torch.cat([sampled.query_mask, sampled.response_mask], 1),
        )
    real = sampled.response_mask.bool()
    torch.testing.assert_close(sampled.logprobs[real], ours[real], atol=1e-4, rtol=1e-4)
    assert sampled.hidden.shape == fresh.hidden.shape
    every = torch.cat([sampled.query_mask, sampled.response_mask], 1).bool()
    torch.testing.assert_close(sampled.hidden[every], fresh.hidden[every], atol=1e-4, rtol=1e-4)


def test_options_trainable_layers_adaptive_kl_k3_whitening_annealing(tiny, tmp_path):
    args = make_args(
        tiny,
        tmp_path / "policy",
        total_episodes=16,
        rollout_batch_size=8,
        minibatch_size=4,
        ppo_epochs=1,
        max_new_tokens=4,
        trainable_layers=1,
        adaptive_kl=True,
        target_kl=0.1,
        kl_horizon=10,
        kl_estimator="k3",
        whiten_rewards=True,
        anneal_lr=True,
    )
    result = train_ppo(args, PROMPTS, letter_share, progress=False, runtime=CPU)
    first, second = result.history
    assert all(math.isfinite(v) for r in result.history for v in r.values())
    # update 1: KL 0 vs target 0.1 -> error clipped to -0.2 -> 0.05 * (1 - 0.2 * 8 / 10) = 0.042
    assert first["kl_coef"] == 0.05 and second["kl_coef"] == pytest.approx(0.042)
    assert second["kl"] >= 0.0  # k3 never goes negative
    assert (first["learning_rate"], second["learning_rate"]) == (pytest.approx(1e-2), pytest.approx(5e-3))
    trained, original = load_causal_lm(result.checkpoint, CPU), load_causal_lm(tiny[0], CPU)
    with torch.no_grad():
        changed = {
            n
            for (n, a), (_, b) in zip(trained.named_parameters(), original.named_parameters())
            if not torch.equal(a, b)
        }
    assert changed and all(n.startswith(("model.layers.1.", "model.norm.")) for n in changed), changed


def test_lora_policy_is_merged_into_a_plain_checkpoint(tiny, tmp_path):
    args = make_args(
        tiny,
        tmp_path / "policy",
        total_episodes=8,
        rollout_batch_size=8,
        minibatch_size=8,
        ppo_epochs=1,
        max_new_tokens=4,
        lora_r=4,
    )
    result = train_ppo(args, PROMPTS, letter_share, progress=False, runtime=CPU)
    assert not (result.checkpoint / "adapter_config.json").exists()
    trained, original = load_causal_lm(result.checkpoint, CPU), load_causal_lm(tiny[0], CPU)
    assert type(trained) is type(original)
    with torch.no_grad():
        diffs = [float((a - b).abs().max()) for a, b in zip(trained.parameters(), original.parameters())]
    assert max(diffs) > 0


def test_a_bf16_sampler_copy_follows_the_policy(tiny, tmp_path):
    """With bf16 sampling (a CPU with bf16 instructions, or a GPU), a bf16 copy samples and gets the
    policy's trained weights after every update; log-probabilities come from the fp32 policy, so
    the first update still starts at KL 0 and the saved policy is the trained fp32 one."""
    from training.ppo import load_models, sync_sampler

    runtime = Runtime(torch.device("cpu"), torch.float32, torch.bfloat16, None)
    args = make_args(tiny, tmp_path / "policy", total_episodes=64, trainable_layers=1)
    models = load_models(args, runtime, with_reward_model=False)
    assert models.sampler is not models.policy and next(models.sampler.parameters()).dtype == torch.bfloat16
    with torch.no_grad():
        top = models.policy_top.blocks[-1].mlp.up_proj.weight
        top.add_(1.0)
    sync_sampler(models)
    copied = dict(models.sampler.named_parameters())["model.layers.1.mlp.up_proj.weight"]
    torch.testing.assert_close(copied.float(), top.to(torch.bfloat16).float())

    result = train_ppo(args, PROMPTS, letter_share, progress=False, runtime=runtime)
    assert result.history[0]["kl"] == pytest.approx(0.0, abs=1e-5)
    assert all(math.isfinite(v) for r in result.history for v in r.values())
    saved = load_causal_lm(result.checkpoint, CPU)
    assert next(saved.parameters()).dtype == torch.float32


@pytest.fixture(scope="module")
def ending(tiny, tmp_path_factory):
    """(policy dir, reward dir): the tiny policy made to end about half of its replies within 8
    tokens (its tied EOS embedding points along the mean final hidden state), and a 1-label
    reward model built from it, so that the two share their embeddings as PPO needs."""
    root = tmp_path_factory.mktemp("ending")
    tokenizer = load_tokenizer(tiny[0])
    policy = load_causal_lm(tiny[0], CPU).eval()
    ids, mask = left_pad(encode_prompts(tokenizer, PROMPTS), tokenizer.pad_token_id)
    with torch.no_grad():
        mean = policy.model(input_ids=ids, attention_mask=mask).last_hidden_state[mask.bool()].mean(0)
        policy.get_output_embeddings().weight[tokenizer.eos_token_id] = 4.0 * mean / mean.norm() ** 2
    policy.save_pretrained(root / "policy")
    tokenizer.save_pretrained(root / "policy")
    reward = AutoModelForSequenceClassification.from_pretrained(root / "policy", num_labels=1)
    reward.config.pad_token_id = tokenizer.pad_token_id
    reward.save_pretrained(root / "reward")
    tokenizer.save_pretrained(root / "reward")
    return root / "policy", root / "reward"


@pytest.mark.parametrize("trainable_layers", [1, None])  # a shared trunk of one block, and none
def test_rollout_scores_each_reply_closed_as_the_reward_model_was_trained(ending, tmp_path, trainable_layers):
    """A reply that ran out of tokens is scored with an EOS appended, a finished one at its own EOS:
    the rollout's raw scores are the reward model's own forward over `query + reply + [EOS]`."""
    from training.ppo import collect_rollout, load_models

    policy_dir, reward_dir = ending
    args = make_args(
        ending,
        tmp_path / "policy",
        reward_model_path=str(reward_dir),
        max_new_tokens=8,
        trainable_layers=trainable_layers,
        temperature=1.0,
    )
    models = load_models(args, CPU, with_reward_model=True)
    reward_model = load_reward_model(reward_dir, CPU).eval()
    tokenizer = models.tokenizer
    queries = encode_prompts(tokenizer, PROMPTS) * 4
    torch.manual_seed(3)
    rollout = collect_rollout(args, models, PROMPTS * 4, queries, None, args.kl_coef)
    assert 4 <= int(rollout.finished.sum()) <= len(queries) - 4  # both kinds are in the batch
    expected = []
    with torch.no_grad():
        for query, reply, n, done in zip(queries, rollout.response, rollout.lengths, rollout.finished):
            ids = query + reply[:n].tolist() + ([] if done else [tokenizer.eos_token_id])
            expected.append(float(reward_model(input_ids=torch.tensor([ids])).logits[0, 0]))
    torch.testing.assert_close(
        rollout.raw_scores, torch.tensor(expected) - models.reward_offset, atol=1e-4, rtol=1e-4
    )

    # TRL's way, for comparison: read at the last sampled token, which differs for unfinished replies
    args.close_truncated = False
    torch.manual_seed(3)
    plain = collect_rollout(args, models, PROMPTS * 4, queries, None, args.kl_coef)
    assert torch.equal(plain.response, rollout.response)
    done = plain.finished
    torch.testing.assert_close(plain.raw_scores[done], rollout.raw_scores[done], atol=1e-4, rtol=1e-4)
    assert not torch.isclose(plain.raw_scores[~done], rollout.raw_scores[~done], atol=1e-4).any()
