"""Did it learn? A round's stored metrics turned into a verdict, headline numbers and samples.

Read-only over what the workers stored (`TrainingRound.metrics`, `PolicyVersion.metrics`); shared
by the round page and the policy versions page so both say the same thing in the same words.
No torch here: this runs in the web process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webapp.catalog.models import PolicyVersion
    from webapp.rounds.models import TrainingRound

# Two-sided 95%: the band a win rate must leave before we call it a change.
Z95 = 1.959963984540054
# Titles for the per-stage number tables; an unknown section is shown under its own name.
SECTION_TITLES = {
    "reward": "Reward model",
    "ppo": "PPO",
    "dpo": "DPO",
    "sft": "SFT",
    "evaluation": "Evaluation",
}


@dataclass(frozen=True)
class Tile:
    """One headline number: a label, the value as shown, and what it is measured on."""

    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class Sample:
    prompt: str
    old: str
    new: str


@dataclass(frozen=True)
class Verdict:
    text: str
    tone: str  # "better", "worse" or "same": picks the colour, the text says it in words
    band: str  # how the noise band was computed, in words


@dataclass(frozen=True)
class Learning:
    """Everything the "Did it learn?" panel shows; `verdict` is None without a win rate."""

    verdict: Verdict | None
    tiles: list[Tile]
    samples: list[Sample]


def number(value: Any) -> float | None:
    """A finite float, or None for missing, null, booleans, text and NaN (stored JSON is untrusted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def count(value: Any) -> int | None:
    value = number(value)
    return int(value) if value is not None and value >= 0 else None


def wilson_interval(rate: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion `rate` observed on `n` trials.

    Ties count half in the win rate, which makes it less variable than a pure binomial, so the
    interval is, if anything, a little wide: we would rather say "no measurable change" than
    claim a change the prompts cannot support.
    """
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def fixed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def arrow(old: float | None, new: float | None, fmt=fixed) -> str:
    """ "old → new", the parent first, as on every line of the panel."""
    return f"{fmt(old)} → {fmt(new)}"


def verdict(win_rate: float | None, prompts: int | None, new: str, old: str) -> Verdict | None:
    """Plain words for a win rate: a change only when 50% lies outside its 95% interval."""
    if win_rate is None or not prompts:
        return None
    low, high = wilson_interval(win_rate, prompts)
    rate = percent(win_rate)
    scope = f"{prompts} held-out prompt{'s' if prompts != 1 else ''} under this round's reward model"
    band = (
        f"95% binomial (Wilson) interval for {prompts} prompts: {percent(low)} to {percent(high)}; "
        f"ties count half. A change is claimed only when 50% (no change) lies outside it."
    )
    if low > 0.5:
        return Verdict(f"{new} beats {old} on {rate} of {scope}.", "better", band)
    if high < 0.5:
        return Verdict(f"{new} loses to {old}: it wins only {rate} of {scope}.", "worse", band)
    return Verdict(
        f"No measurable change: {new} wins {rate} of {scope}, within the noise band.", "same", band
    )


def samples(evaluation: dict[str, Any]) -> list[Sample]:
    """The stored sample answers, as plain strings; anything malformed is skipped, not shown raw."""
    rows = evaluation.get("samples")
    if not isinstance(rows, list):
        return []
    return [
        Sample(prompt=str(row.get("prompt", "")), old=str(row.get("old", "")), new=str(row.get("new", "")))
        for row in rows
        if isinstance(row, dict)
    ]


def _shown(value: Any) -> str | None:
    """A scalar as text for the generic key/value tables; lists and objects are left to the raw JSON."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return None


def key_values(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, shown) for key, value in values.items() if (shown := _shown(value)) is not None]


def stage_numbers(metrics: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section but evaluation as (title, [(key, value), ...]): a new "dpo" shows up unasked."""
    out = []
    for name, values in metrics.items():
        if name == "evaluation" or not isinstance(values, dict):
            continue
        rows = key_values(values)
        if rows:
            out.append((SECTION_TITLES.get(name, name), rows))
    return out


def summarize(metrics: dict[str, Any] | None, new: str, old: str) -> Learning | None:
    """The panel for one round's (or one version's) metrics; None until evaluation has run.

    `new` and `old` name the versions ("v1", "v0") in the verdict and tiles.
    """
    metrics = metrics if isinstance(metrics, dict) else {}
    evaluation = metrics.get("evaluation")
    if not isinstance(evaluation, dict):
        return None
    reward = metrics.get("reward") if isinstance(metrics.get("reward"), dict) else {}
    ppo = metrics.get("ppo") if isinstance(metrics.get("ppo"), dict) else {}
    prompts = count(evaluation.get("prompts"))
    win = number(evaluation.get("win_rate"))
    tiles = [
        Tile(
            f"win rate {new} vs {old}", percent(win), f"on {prompts} prompts" if prompts is not None else ""
        ),
        Tile(f"KL({new} ‖ {old})", fixed(number(evaluation.get("kl")), 3), "nats per response"),
        Tile(
            "response length",
            arrow(
                number(evaluation.get("old_length")),
                number(evaluation.get("new_length")),
                lambda v: fixed(v, 1),
            ),
            f"mean tokens, {old} → {new}",
        ),
        Tile(
            "ends with EOS",
            arrow(
                number(evaluation.get("old_eos_fraction")),
                number(evaluation.get("new_eos_fraction")),
                percent,
            ),
            f"share of answers, {old} → {new}",
        ),
    ]
    if "eval_accuracy" in reward:
        pairs = count(reward.get("pairs_eval"))
        tiles.append(
            Tile(
                "reward-model accuracy",
                percent(number(reward.get("eval_accuracy"))),
                f"on {pairs} held-out pairs" if pairs is not None else "held-out pairs",
            )
        )
    if "old_reward_mean" in evaluation or "new_reward_mean" in evaluation:
        tiles.append(
            Tile(
                "mean reward",
                arrow(number(evaluation.get("old_reward_mean")), number(evaluation.get("new_reward_mean"))),
                f"under this round's reward model, {old} → {new}",
            )
        )
    if "reward_start" in ppo or "reward_end" in ppo:
        start, end = number(ppo.get("reward_start")), number(ppo.get("reward_end"))
        tiles.append(Tile("PPO reward", arrow(start, end), "start → end of training"))
    for key, value in evaluation.items():  # other scorers: win_rate_<name>
        if key.startswith("win_rate_"):
            tiles.append(
                Tile(f"win rate by {key[len('win_rate_') :]}", percent(number(value)), f"{new} vs {old}")
            )
    return Learning(
        verdict=verdict(win, prompts, new, old),
        tiles=tiles,
        samples=samples(evaluation),
    )


def metrics_key(metrics: dict[str, Any] | None, state: str) -> str:
    """What the panel depends on, as a string the round page's script can compute the same way.

    The script re-fetches the panel when this changes (a section arrived, the round ended).
    """
    sections = sorted(metrics) if isinstance(metrics, dict) else []
    return ",".join(sections) + "|" + state


def version_label(policy: PolicyVersion | None, fallback: str) -> str:
    return f"v{policy.number}" if policy is not None else fallback


def round_summary(training_round: TrainingRound) -> dict[str, Any]:
    """Template context for the round page's summary block (also served alone, for live refresh).

    Expects `policy_in` and `policy_out` to be loaded with the round (select_related).
    """
    new = version_label(training_round.policy_out, "the new policy")
    old = version_label(training_round.policy_in, "its parent")
    return {
        "learning": summarize(training_round.metrics, new, old),
        "stage_numbers": stage_numbers(training_round.metrics or {}),
        "new_label": new,
        "old_label": old,
        "summary_key": metrics_key(training_round.metrics, training_round.state),
    }
