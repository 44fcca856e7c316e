"""A shared frozen trunk: the lower blocks that policy, reference, value and reward model have in common.

PPO on a language model runs four models over every rollout: the policy, its frozen reference,
the value model and the reward model. prefloop trains all of them from the same base with all but
the top N blocks frozen, so their lower blocks (and embeddings) hold the same weights. This
module computes those lower blocks once per rollout (`SharedTrunk.__call__` -> `TrunkState`) and
runs each model's own top blocks, final norm and head on the cached result (`Top.hidden`). The
cache stays valid across PPO epochs: nothing below the trainable blocks can change.

The split is not assumed, it is checked: `shared_depth` compares the blocks' weights, and
`Top.verify` compares a split forward with the model's own forward on a small batch. A model
family whose layers do not fit the Llama-style layout (embed_tokens, layers, norm, rotary_emb),
or whose blocks differ, gets depth 0: each top then runs every block itself (embeddings are
frozen in PPO, so they are still shared).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from transformers.masking_utils import create_causal_mask

from training.models import decoder_layers


@dataclass
class DecoderParts:
    """The pieces of a decoder-only transformer that a split forward needs."""

    base: torch.nn.Module  # the backbone (LlamaModel, Qwen2Model, ...)
    embed: torch.nn.Module
    layers: torch.nn.ModuleList
    norm: torch.nn.Module
    head: torch.nn.Module  # lm_head of a causal LM, score of a sequence classifier


def decoder_parts(model) -> DecoderParts:
    """Backbone, embeddings, blocks, final norm and head of a causal LM or sequence classifier."""
    head = model.get_output_embeddings()
    if head is None:
        head = getattr(model, "score", None) or getattr(model, "classifier", None)
    base = model.get_decoder() if hasattr(model, "get_decoder") and model.get_decoder() is not None else None
    if base is None:
        base = getattr(model, model.base_model_prefix)
    for name in ("embed_tokens", "layers", "norm", "rotary_emb"):
        if not hasattr(base, name):
            raise ValueError(f"{type(model).__name__} has no {name}: not a Llama-style decoder")
    if head is None:
        raise ValueError(f"cannot find the head of {type(model).__name__}")
    return DecoderParts(base, base.embed_tokens, decoder_layers(model), base.norm, head)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pa, pb = list(a.parameters()), list(b.parameters())
    return len(pa) == len(pb) and all(
        x is y or (x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y)) for x, y in zip(pa, pb)
    )


def shared_depth(models: list, limit: int) -> int:
    """How many bottom blocks (embeddings included) every model in `models` holds identically, at most `limit`.

    -1 when even the embeddings differ (then nothing can be shared)."""
    parts = [decoder_parts(m) for m in models]
    first = parts[0]
    if not all(_same_weights(first.embed, p.embed) for p in parts[1:]):
        return -1
    depth = 0
    while depth < limit and all(
        depth < len(p.layers) and _same_weights(first.layers[depth], p.layers[depth]) for p in parts[1:]
    ):
        depth += 1
    return depth


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that count only real tokens, so a left-padded row sees the unpadded positions."""
    return (attention_mask.cumsum(1) - 1).clamp(min=0)


@dataclass
class TrunkState:
    """The trunk's output for a batch: hidden states after the shared blocks, and what the tops need."""

    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L], 1 = real token
    position_ids: torch.Tensor  # [B, L]
    hidden: torch.Tensor | None  # [B, L, H], detached; None when nothing is shared

    def rows(self, index: torch.Tensor) -> "TrunkState":
        return TrunkState(
            self.input_ids[index],
            self.attention_mask[index],
            self.position_ids[index],
            None if self.hidden is None else self.hidden[index],
        )


def _run_blocks(
    parts: DecoderParts,
    blocks,
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor,
) -> torch.Tensor:
    """Run `blocks` of `parts.base` on `hidden`, exactly as the backbone's own forward does."""
    if len(blocks) == 0:
        return hidden
    causal_mask = create_causal_mask(
        config=parts.base.config,
        inputs_embeds=hidden,
        attention_mask=attention_mask,
        past_key_values=None,
        position_ids=position_ids,
    )
    position_embeddings = parts.base.rotary_emb(hidden, position_ids=position_ids)
    for block in blocks:
        hidden = block(
            hidden,
            attention_mask=causal_mask,
            position_embeddings=position_embeddings,
            position_ids=position_ids,
            use_cache=False,
        )
    return hidden


class SharedTrunk:
    """Embeddings and the bottom `depth` blocks of `model`, run once per batch without gradients."""

    def __init__(self, model, depth: int, used: bool = True):
        self.parts = decoder_parts(model)
        self.depth = depth
        self.used = used  # False when every top embeds the ids itself (nothing is shared)

    @property
    def output_module(self) -> torch.nn.Module | None:
        """The module whose output is the trunk's output (hook it to capture the trunk during sampling)."""
        if not self.used:
            return None
        return self.parts.layers[self.depth - 1] if self.depth else self.parts.embed

    @torch.no_grad()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> TrunkState:
        position_ids = position_ids_from_mask(attention_mask)
        if not self.used:
            return TrunkState(input_ids, attention_mask, position_ids, None)
        hidden = self.parts.embed(input_ids)
        hidden = _run_blocks(
            self.parts, self.parts.layers[: self.depth], hidden, attention_mask, position_ids
        )
        return TrunkState(input_ids, attention_mask, position_ids, hidden.detach())


class Top:
    """One model's blocks above the trunk, its final norm and its head, applied to a `TrunkState`.

    `Top(model, depth)` uses the model's own modules (training them trains the model);
    `Top.frozen_copy(model, depth)` copies them, frozen (the PPO reference).
    """

    def __init__(self, model, depth: int, own_embedding: bool = False, parts: DecoderParts | None = None):
        self.parts = parts or decoder_parts(model)
        self.depth = depth
        self.own_embedding = own_embedding  # embed the ids itself (trained embeddings): only with depth 0
        if own_embedding and depth:
            raise ValueError("a top with its own embeddings cannot sit on a trunk of blocks")
        self.blocks = list(self.parts.layers[depth:])

    @classmethod
    def frozen_copy(cls, model, depth: int, own_embedding: bool = False) -> "Top":
        """A frozen copy of the top blocks, norm and head (and embeddings when they are its own).

        Modules that are already frozen (a tied LM head, the trunk) stay shared, not copied."""
        parts = decoder_parts(model)

        def frozen(module):
            trained = any(p.requires_grad for p in module.parameters())
            return (copy.deepcopy(module) if trained else module).requires_grad_(False)

        copied = replace(
            parts,
            embed=frozen(parts.embed) if own_embedding else parts.embed,
            layers=torch.nn.ModuleList([*parts.layers[:depth], *(frozen(b) for b in parts.layers[depth:])]),
            norm=frozen(parts.norm),
            head=frozen(parts.head),
        )
        return cls(model, depth, own_embedding, copied)

    def hidden(self, state: TrunkState) -> torch.Tensor:
        """Final (normed) hidden states for every position: [B, L, H]."""
        dtype = next(self.parts.norm.parameters()).dtype
        start = self.parts.embed(state.input_ids) if self.own_embedding else state.hidden.to(dtype)
        hidden = _run_blocks(self.parts, self.blocks, start, state.attention_mask, state.position_ids)
        return self.parts.norm(hidden)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """The head on [..., H] states; as one contiguous 2-D matmul (a strided 3-D one is slower on CPU)."""
        out = self.parts.head(hidden.reshape(-1, hidden.size(-1)))
        return out.view(*hidden.shape[:-1], out.size(-1))

    @torch.no_grad()
    def verify(
        self,
        model,
        trunk: SharedTrunk,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        atol: float = 1e-3,
    ) -> float:
        """Largest difference between the split forward and `model`'s own forward; raises above `atol`.

        Guards the assumption that this model family runs its blocks the way `_run_blocks` does."""
        state = trunk(input_ids, attention_mask)
        split = self.head(self.hidden(state)).float()
        whole = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=state.position_ids,
            use_cache=False,
        ).logits.float()
        if whole.dim() == 2:  # a sequence classifier pools one position: compare all of them instead
            backbone = decoder_parts(model).base
            hidden = backbone(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=state.position_ids,
                use_cache=False,
            ).last_hidden_state
            whole = self.parts.head(hidden).float()
        real = attention_mask.bool()
        diff = float((split - whole).abs()[real].max())
        scale = float(whole[real].abs().max()) or 1.0
        if diff > atol * max(1.0, scale):
            raise RuntimeError(f"split forward differs from {type(model).__name__}'s own by {diff:.2e}")
        return diff


class CachedTrunkBackbone(torch.nn.Module):
    """A backbone that looks up its trunk output instead of computing it: for training the top blocks.

    A reward model trained for several epochs with all but the top blocks frozen computes the
    same frozen blocks over the same sequences every epoch. `fill` runs the trunk once per
    distinct sequence; put this module in place of the model's backbone (`install`) and the
    model's own forward (a trainer's, say) runs only the top blocks and the final norm on the
    cached states. Training updates the model's own top blocks: they are the same modules.
    """

    def __init__(self, model, depth: int):
        super().__init__()
        parts = decoder_parts(model)
        # plain lists, not submodules: the frozen trunk must not reappear in parameters()
        self._model, self._original = [model], [parts.base]
        self.config = parts.base.config
        self.embed_tokens = parts.embed  # what get_input_embeddings() reaches for
        self.top = Top(model, depth, parts=parts)
        self.blocks = torch.nn.ModuleList(self.top.blocks)
        self.norm = parts.norm
        self.trunk = SharedTrunk(model, depth)
        self.cache: dict[tuple[int, ...], torch.Tensor] = {}
        self.misses = 0  # sequences looked up that `fill` had not been given
        self.pad_id = 0

    @torch.no_grad()
    def fill(self, sequences: list[list[int]], pad_id: int, batch_size: int = 16) -> int:
        """Run the trunk over every sequence not cached yet (similar lengths batched); returns the bytes cached."""
        self.pad_id = pad_id
        todo = sorted({tuple(s) for s in sequences} - self.cache.keys(), key=len)
        device = self.embed_tokens.weight.device
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            width = max(len(s) for s in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long, device=device)
            mask = torch.zeros_like(ids)
            for row, seq in enumerate(batch):  # right padding, as the preference collator pads
                ids[row, : len(seq)] = torch.tensor(seq, device=device)
                mask[row, : len(seq)] = 1
            hidden = self.trunk(ids, mask).hidden
            for row, seq in enumerate(batch):
                self.cache[seq] = hidden[row, : len(seq)].clone()
        return sum(h.numel() * h.element_size() for h in self.cache.values())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        from transformers.modeling_outputs import BaseModelOutputWithPast

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = torch.zeros(
            *input_ids.shape,
            self.embed_tokens.embedding_dim,
            device=input_ids.device,
            dtype=next(iter(self.cache.values())).dtype,
        )
        real = attention_mask.bool()
        keys = [tuple(input_ids[row, real[row]].tolist()) for row in range(input_ids.size(0))]
        missing = [list(key) for key in dict.fromkeys(keys) if key not in self.cache]
        if missing:  # a sequence nobody announced: compute it now (slower, never wrong)
            self.misses += len(missing)
            self.fill(missing, self.pad_id)
        for row, key in enumerate(keys):  # left or right padding: the real tokens are contiguous
            hidden[row, real[row]] = self.cache[key]
        state = TrunkState(input_ids, attention_mask, position_ids_from_mask(attention_mask), hidden)
        return BaseModelOutputWithPast(last_hidden_state=self.top.hidden(state))

    def install(self) -> None:
        setattr(self._model[0], self._model[0].base_model_prefix, self)

    def uninstall(self) -> None:
        setattr(self._model[0], self._model[0].base_model_prefix, self._original[0])
