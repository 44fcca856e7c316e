"""Two rounds of the real pipeline teach a tiny model a scripted preference, beyond what chance does.

Scripted annotators prefer the answer with more ASCII letters (a preference the tiny random model
can learn in a few hundred episodes: most of what it emits are stray bytes). Two projects
run two rounds each through a real Celery worker over real Redis: one with the round's learning
rates, a control with the policy's learning rate at zero. Then v2 and v0 of each project answer
the same held-out prompts, several times each, and the rule judges every pair. The control's
v2 is v0, so its win rate is what sampling noise gives; the learning project must clear it by
three standard errors (of both win rates, over prompts).
"""

from __future__ import annotations

import math
import time

import pytest
import torch

from tests.tiny_models import build_tiny_model
from training.generate import GenerateArgs, encode_prompts, generate_from_checkpoint, left_pad
from training.models import Runtime, load_causal_lm, load_tokenizer, save_model
from webapp.annotation.simulate import simulate
from webapp.catalog.generation import generate_comparisons
from webapp.catalog.models import Prompt
from webapp.catalog.services import create_base_policy
from webapp.projects.models import Project
from webapp.rounds import services
from webapp.rounds.models import TrainingRound

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPARISONS = 48


def letters(text: str) -> int:
    return sum(ch.isascii() and ch.isalpha() for ch in text)


def more_letters(prompt: list, response_a: str, response_b: str) -> str:
    """The scripted annotator: the answer with more ASCII letters wins (it decides about 85% of the
    tiny model's pairs, whose replies are mostly stray bytes)."""
    a, b = letters(response_a), letters(response_b)
    return "tie" if a == b else "a" if a > b else "b"


GENERATE = {"max_new_tokens": 12, "temperature": 1.0, "batch_size": 16}
ROUND = {
    "round": {
        "min_pairs": 4,
        "ppo_prompts": 16,
        "eval_prompts": 4,
        "next_comparisons": COMPARISONS,
        # the tiny model needs both rounds of pairs to clear the control in round 2 (with
        # only the new pairs DPO reached 0.50 against 0.47): the whole history here
        "judgments": "all",
    },
    "reward": {
        "max_length": 256,
        "epochs": 10,
        "trainable_layers": None,
        "batch_size": 8,
        "learning_rate": 5e-3,
    },
    "ppo": {
        "max_new_tokens": 12,
        "trainable_layers": None,
        "total_episodes": 256,
        "rollout_batch_size": 32,
        "minibatch_size": 16,
        "ppo_epochs": 4,
        "learning_rate": 1e-3,
        "temperature": 1.0,
        "missing_eos_penalty": None,
    },
    "dpo": {
        "trainable_layers": None,
        "epochs": 10,
        "learning_rate": 3e-3,
        "beta": 0.1,
        "batch_size": 8,
        "sft_weight": 1.0,
    },
    "generate": GENERATE,
}
EVAL_PROMPTS, EVAL_SAMPLES = 16, 8
ROUND_DEADLINE_S = 600


def printable_tiny_model(path) -> str:
    """The tiny random model, made to speak printable ASCII.

    A random byte-level model mostly emits bytes that are not valid UTF-8 on their own; decoded,
    they all become U+FFFD, and the text the annotators judge (and the reward model then trains
    on, re-tokenized) no longer matches the tokens the policy sampled. Lifting the logits of the
    printable-ASCII tokens (their tied embedding rows gain the mean final hidden state's
    direction) makes the text round-trip, as a real model's does.
    """
    base = build_tiny_model(path / "random")
    runtime = Runtime.detect(prefer_cpu=True)
    tokenizer, model = load_tokenizer(base), load_causal_lm(base, runtime).eval()
    prompts = [[{"role": "user", "content": f"tell me about {i}"}] for i in range(16)]
    ids, mask = left_pad(encode_prompts(tokenizer, prompts), tokenizer.pad_token_id)
    with torch.no_grad():
        mean = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[mask.bool()].mean(0)
        weight = model.get_output_embeddings().weight
        printable = [
            i
            for i in range(weight.size(0))
            if i not in tokenizer.all_special_ids and all(32 <= ord(ch) < 127 for ch in tokenizer.decode([i]))
        ]
        weight[printable] += 6.0 * mean / mean.norm() ** 2
    return str(save_model(model, tokenizer, path / "printable"))


def with_learning_rate(config: dict, algorithm: str, rate: float | None) -> dict:
    out = {section: dict(values) for section, values in config.items()}
    out["round"]["algorithm"] = algorithm
    if rate is not None:
        out[algorithm]["learning_rate"] = rate
    if rate == 0.0:
        # The control's v1 is v0, so round 1's parent-vs-new pairs are identical answers, all ties:
        # round 2 trains on the whole history instead of the (empty) set of new pairs.
        out["round"]["judgments"] = "all"
    return out


def run_two_rounds(slug: str, base, config: dict) -> tuple[str, str]:
    """A project on the tiny base, COMPARISONS comparisons judged by the rule before each of two rounds."""
    project = Project.objects.create(name=slug, slug=slug, training_config=config)
    for i in range(32):
        Prompt.objects.create(
            project=project, conversation=[{"role": "user", "content": f"tell me about {i}"}]
        )
    for i in range(EVAL_PROMPTS):
        Prompt.objects.create(
            project=project,
            split=Prompt.Split.EVAL,
            conversation=[{"role": "user", "content": f"what is {i}?"}],
        )
    v0 = create_base_policy(project, str(base))
    generate_comparisons(project.pk, COMPARISONS, GENERATE, seed=0)
    checkpoint = v0.checkpoint
    for _ in range(2):
        simulate(project, COMPARISONS, more_letters)
        training_round = services.start_round(project)
        deadline = time.monotonic() + ROUND_DEADLINE_S
        while training_round.is_active:  # the worker is another process: follow the round in the database
            assert time.monotonic() < deadline, (
                f"round stuck in {training_round.state}: {training_round.progress}"
            )
            time.sleep(0.5)
            training_round.refresh_from_db()
        assert training_round.state == TrainingRound.State.DONE, training_round.error
        checkpoint = training_round.policy_out.checkpoint
    return v0.checkpoint, checkpoint


def rule_win_rate(v0: str, v2: str) -> tuple[float, float]:
    """(win rate of v2 over v0 under the rule, its standard error over prompts); ties count half."""
    prompts = [[{"role": "user", "content": f"what is {i}?"}] for i in range(EVAL_PROMPTS)]
    repeated = [p for p in prompts for _ in range(EVAL_SAMPLES)]
    new = generate_from_checkpoint(v2, repeated, GenerateArgs(**GENERATE, seed=11))
    old = generate_from_checkpoint(v0, repeated, GenerateArgs(**GENERATE, seed=12))
    outcome = {"a": 1.0, "tie": 0.5, "b": 0.0}
    scores = [outcome[more_letters(p, a.text, b.text)] for p, a, b in zip(repeated, new, old)]
    per_prompt = [
        sum(scores[i : i + EVAL_SAMPLES]) / EVAL_SAMPLES for i in range(0, len(scores), EVAL_SAMPLES)
    ]
    mean = sum(per_prompt) / len(per_prompt)
    variance = sum((x - mean) ** 2 for x in per_prompt) / (len(per_prompt) - 1)
    return mean, math.sqrt(variance / len(per_prompt))


@pytest.mark.parametrize("algorithm", ["ppo", "dpo"])
def test_two_rounds_teach_the_rule_beyond_a_zero_learning_rate_control(
    algorithm, celery_worker_process, tmp_path
):
    base = printable_tiny_model(tmp_path)
    learned = rule_win_rate(*run_two_rounds("learn", base, with_learning_rate(ROUND, algorithm, None)))
    control = rule_win_rate(*run_two_rounds("control", base, with_learning_rate(ROUND, algorithm, 0.0)))
    margin = 3 * math.sqrt(learned[1] ** 2 + control[1] ** 2)
    assert learned[0] > control[0] + margin, (learned, control, margin)
