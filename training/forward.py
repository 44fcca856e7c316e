"""Whole-model forward passes over `query + response`: per-token logits and values.

The plain way to get what PPO and evaluation need from a model, one full forward each. PPO runs
the same computation split over a shared trunk (`training.trunk`); tests hold the two equal.

Padding: queries are left-padded and responses right-padded. Attention masks cover both,
position ids count only real tokens, and the logits (or value) for response token t are read at
position `query_width + t - 1`, the state before it.
"""

from __future__ import annotations

import torch

from training.trunk import position_ids_from_mask


def policy_forward(
    model,
    query: torch.Tensor,
    query_mask: torch.Tensor,
    response: torch.Tensor,
    response_mask: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Logits / temperature for every response token, read one position before it: [B, T, V]."""
    input_ids = torch.cat([query, response], dim=1)
    attention_mask = torch.cat([query_mask, response_mask], dim=1)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
    )
    width = query.size(1)
    return out.logits[:, width - 1 : -1] / temperature


def value_forward(
    value_model,
    query: torch.Tensor,
    query_mask: torch.Tensor,
    response: torch.Tensor,
    response_mask: torch.Tensor,
) -> torch.Tensor:
    """The value model's score head on every position's hidden state, for each response token: [B, T]."""
    input_ids = torch.cat([query, response], dim=1)
    attention_mask = torch.cat([query_mask, response_mask], dim=1)
    backbone = getattr(value_model, value_model.base_model_prefix)
    hidden = backbone(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
    ).last_hidden_state
    width = query.size(1)
    return value_model.score(hidden[:, width - 1 : -1]).squeeze(-1).float()
