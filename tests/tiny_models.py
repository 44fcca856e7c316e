"""A tiny random Llama for tests: no download, a few hundred thousand parameters, and the same
code paths (chat template, special tokens, pad != eos) as SmolLM2."""

from __future__ import annotations

from pathlib import Path

import torch

from training.models import CHATML_TEMPLATE

TINY_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a good answer is short and kind",
    "a bad answer is long and rude",
    "what is the capital of france? paris is the capital of france.",
    "hello how are you today? i am fine thank you.",
    "tell me a joke about cats and dogs",
    "write a poem about the sea and the sky",
    "explain why the sky is blue in simple words",
    "0 1 2 3 4 5 6 7 8 9 yes no maybe",
]


def build_tiny_model(
    out_dir: str | Path,
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 4,
    vocab_size: int = 300,
    seed: int = 0,
) -> Path:
    """Build a tiny random Llama with a byte-level BPE tokenizer and ChatML template.

    It is what tests train: no download, a few hundred thousand parameters, the same code
    paths (chat template, special tokens, pad != eos) as SmolLM2.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    if (out / "config.json").exists():
        return out
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(TINY_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
