"""Stage 00's building blocks: the data, the tokenizer and the untrained or hub base model, as the preset says."""

from __future__ import annotations

from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from solar_utils.modeling import build_model, load_hub_model, load_hub_tokenizer
from solar_utils.runs import Stage
from solar_utils.tokenizer import train_tokenizer
from solar_utils.world import World, build_world


def prepare_world(stage: Stage) -> World | None:
    """Generate the tiny world from the run's seed and write it to ``stage.world_dir`` when any text source uses it."""
    data = stage.preset.data
    if "world" not in (data.pretrain.kind, data.heldout.kind):
        return None
    world = build_world(data.world, seed=stage.seed)
    stage.record_data("world", world.write(stage.world_dir))
    return world


def prepare_tokenizer(stage: Stage, train_texts: list[str], world: World | None = None) -> PreTrainedTokenizerBase:
    """Train a byte-level BPE (``tokenizer.source: train``) or load the hub model's own; saved to
    ``<stage>/tokenizer`` either way. With a world, the BPE sees all of its training text (corpus, instructions,
    preferences, math seeds, never evaluation items), so later stages' words tokenize compactly too."""
    cfg = stage.preset.tokenizer
    if cfg.source == "train":
        texts = world.training_texts() if world is not None else train_texts
        tokenizer = train_tokenizer(texts, vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency)
    else:
        tokenizer = load_hub_tokenizer(stage.preset.model)
    tokenizer.save_pretrained(stage.path("tokenizer"))
    stage.record_data("tokenizer", stage.path("tokenizer"))
    return AutoTokenizer.from_pretrained(stage.path("tokenizer"))


def prepare_model(stage: Stage, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """A freshly initialised model of the preset's shape (``model.source: scratch``) or the hub model."""
    cfg = stage.preset.model
    return build_model(cfg, tokenizer) if cfg.source == "scratch" else load_hub_model(cfg, device_map="auto")
