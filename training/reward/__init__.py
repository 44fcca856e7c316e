"""Reward models: `scorer` (tokenization and scoring, shared with PPO) and `train` (TRL RewardTrainer)."""

from training.reward.scorer import RewardScorer, accuracy, encode_pair, reward_offset_of
from training.reward.train import (
    RewardArgs,
    RewardResult,
    count_too_long,
    freeze_to_top_layers,
    load_reward_backbone,
    padded_tokens,
    padding_report,
    split_records,
    tokenized_rows,
    train_reward_model,
    trim_prompt_turns,
)

__all__ = [
    "RewardArgs",
    "RewardResult",
    "RewardScorer",
    "accuracy",
    "count_too_long",
    "encode_pair",
    "freeze_to_top_layers",
    "load_reward_backbone",
    "padded_tokens",
    "padding_report",
    "reward_offset_of",
    "split_records",
    "tokenized_rows",
    "train_reward_model",
    "trim_prompt_turns",
]
