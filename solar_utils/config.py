"""Presets as data: YAML files loaded into typed, frozen config objects.

A preset (``tiny``, ``small``, ``paper`` or a path to a YAML file) fixes every knob of the pipeline.
Code reads values from it and never branches on a preset's name.

The dataclass defaults below are the one home of every value: they are the tiny scale (offline, the tiny
world's data), so ``presets/tiny.yaml`` is little more than a description. A preset file states only what differs
from the defaults, each line with its reason (as nanoGPT's ``config/*.py`` files do). Overrides merge over the
defaults *at their place*: a section (a nested config) keeps every default it does not name, also inside nested
sections, so ``continued: {train: {max_steps: 300}}`` changes one value of ``ContinuedPretrainConfig.train``'s
default recipe and keeps the rest of it. Every other value (scalars, lists such as ``sources``, plain mappings such
as ``eval.num_fewshot``) is replaced whole. The ``overrides`` of :func:`load_preset` apply over the loaded preset
in the same way.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from solar_utils.world import WorldConfig

PRESETS_DIR = Path(__file__).parent / "presets"
PRESET_NAMES = ("tiny", "small", "paper")


class PresetError(ValueError):
    """A preset that does not exist, or a YAML file with unknown keys or wrongly typed values."""


@dataclass(frozen=True)
class TextSource:
    """Where a list of documents comes from: the tiny world (``kind: world``) or a hub dataset."""

    kind: Literal["world", "hub"] = "world"
    split: str = "train"
    path: str | None = None
    name: str | None = None
    column: str = "text"
    max_docs: int | None = None


@dataclass(frozen=True)
class DataConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    pretrain: TextSource = field(default_factory=TextSource)
    heldout: TextSource = field(default_factory=lambda: TextSource(split="heldout"))


@dataclass(frozen=True)
class TokenizerConfig:
    """``source: train`` trains a byte-level BPE on the pretraining text; ``hub`` uses the model's own."""

    source: Literal["train", "hub"] = "train"
    vocab_size: int = 2048
    min_frequency: int = 2


@dataclass(frozen=True)
class ModelConfig:
    """``source: scratch`` builds a fresh model of this shape; ``hub`` loads ``hub_id``.

    ``architecture`` is the class the weights live in: the paper loads Mistral-7B weights into
    the 32-layer Llama-2 architecture (``architecture: llama`` with a Mistral ``hub_id``). The shape fields
    build a scratch model; a hub model keeps its checkpoint's shape, except ``hub_context``, the context length
    its config then states (null: the checkpoint's own).
    """

    source: Literal["scratch", "hub"] = "scratch"
    hub_id: str | None = None
    revision: str | None = None
    architecture: Literal["llama", "mistral", "auto"] = "llama"
    hidden_size: int = 128
    num_hidden_layers: int = 8  # 8 -> 12 layers with m = 2: the paper's 32 -> 48 ratio
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 384
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_word_embeddings: bool = True
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    hub_context: int | None = None


@dataclass(frozen=True)
class PretrainConfig:
    """Pretraining from scratch with the HF Trainer (used only when ``model.source`` is ``scratch``)."""

    max_steps: int = 600
    batch_size: int = 8
    seq_len: int = 256
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    weight_decay: float = 0.1
    adam_beta2: float = 0.95
    bf16_autocast: bool = True
    eval_every: int = 50
    eval_blocks: int = 48
    save_every: int = 200
    gradient_checkpointing: bool = False
    eval_on_start: bool = False


@dataclass(frozen=True)
class HeldoutConfig:
    """How held-out loss is measured: packed blocks of ``seq_len`` tokens, at most ``max_blocks``."""

    seq_len: int = 256
    max_blocks: int = 96
    batch_size: int = 16


@dataclass(frozen=True)
class DUSConfig:
    """Depth up-scaling: ``m`` layers dropped at the seam; ``sweep`` extra m values to compare;
    ``identity_every`` > 0 adds a LLaMA-Pro identity-expansion control; ``reference_shape`` is
    built on the meta device to show the paper's parameter count."""

    m: int = 2
    sweep: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    identity_every: int = 2
    max_shard_size: str = "2GB"
    reference_shape: str = "mistral-7b"
    reference_m: int = 8


@dataclass(frozen=True)
class AdapterConfig:
    """How a stage trains: all weights (``full``), LoRA adapters, or LoRA on a 4-bit base (``qlora``).

    ``target_modules: all-linear`` puts adapters on every linear layer but the output head (peft's rule);
    ``qlora`` loads the base as 4-bit ``quant_type`` with double quantization, computing in bf16 on GPUs
    (float32 on CPUs). After training the adapters are merged back into a standard checkpoint."""

    method: Literal["full", "lora", "qlora"] = "full"
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: str | list[str] = "all-linear"
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True


@dataclass(frozen=True)
class ContinuedPretrainConfig:
    """Continued pretraining of the DUS model (notebook 02): the Trainer recipe in ``train``, the main
    ``adapter`` method, other methods to compare (each with ``lora_learning_rate`` when it trains adapters),
    and how many mini-H6 items per task to evaluate (0 skips the evaluation)."""

    # the DUS model recovers within ~60 steps; eval every 5 steps (step 0 included) to see it happen
    train: PretrainConfig = field(default_factory=lambda: PretrainConfig(
        max_steps=60, learning_rate=1e-3, warmup_steps=5, eval_every=5, eval_blocks=24, save_every=20,
        eval_on_start=True))
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    compare: list[Literal["full", "lora", "qlora"]] = field(default_factory=lambda: ["lora", "qlora"])
    lora_learning_rate: float = 3e-3
    eval_limit: int = 100


@dataclass(frozen=True)
class MixtureSource:
    """One instruction dataset of the SFT mixture (paper Table 1): where it is, its record ``schema``
    (``alpaca``, ``openorca`` or ``math_instruct``; for preference data ``orca_dpo``, ``ultrafeedback`` or
    ``math_alignment``), a sampling ``weight`` and the ``max_used`` cap.

    ``kind: world`` reads ``<world>/<path>``; ``stage`` reads ``<run>/<path>`` (an earlier stage's output;
    ``optional`` sources that are missing are skipped with a note); ``hub`` loads dataset ``path``."""

    name: str
    schema: str
    kind: Literal["world", "stage", "hub"] = "world"
    path: str = ""
    split: str = "train"
    weight: float = 1.0
    max_used: int | None = None
    optional: bool = False


@dataclass(frozen=True)
class MixtureVariant:
    """A named SFT run on some of the mixture's sources (paper Table 3: v1 Alpaca, v2 +OpenOrca, ...)."""

    name: str
    sources: list[str]


REPLAY = "replay"  # instruct.replay's documents in every SFT mixture's counts: no source may take the name


@dataclass(frozen=True)
class InstructConfig:
    """Instruction tuning with trl's ``SFTTrainer`` (notebook 04) on a weighted, capped dataset mixture.

    ``heldout_per_source`` records of each source are kept apart to measure held-out instruction loss;
    ``replay`` documents (a :class:`TextSource`, or null) join every variant's mixture as plain text;
    ``main`` names the variant saved as the stage's ``model``."""

    # paper Table 1: per-source weight and max-used cap (Alpaca-GPT4 52K/52K, OpenOrca 2.91M/100K, Math 126K/52K),
    # scaled to the tiny world's 2,000-record sources
    sources: list[MixtureSource] = field(default_factory=lambda: [
        MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl", max_used=2000),
        MixtureSource("openorca", "openorca", path="instructions/openorca.jsonl", max_used=1000),
        MixtureSource("math", "math_instruct", kind="stage", path="03_synthetic_math/synth_math_instruct.jsonl",
                      max_used=1000, optional=True)])
    # paper Table 3: v2 Alpaca-GPT4 + OpenOrca, v3 + Synth. Math-Instruct, v4 Alpaca-GPT4 + Synth. Math-Instruct;
    # v1 (Alpaca-GPT4 alone) is in no claim and its 60 s do not fit notebook 04's 4 minutes on 2 cores
    variants: list[MixtureVariant] = field(default_factory=lambda: [
        MixtureVariant("v2", ["alpaca", "openorca"]), MixtureVariant("v3", ["alpaca", "openorca", "math"]),
        MixtureVariant("v4", ["alpaca", "math"])])
    # not in the paper: pretraining documents replayed among the instructions (loss on the whole document) keep what
    # the tiny base knows through the longer, hotter SFT below (without them HellaSwag fell from 99 to 22-49); every
    # variant gets them; null trains on the instruction mixture alone
    replay: TextSource | None = field(default_factory=lambda: TextSource(max_docs=1500))
    main: str = "v3"
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    # the model learns to copy the question's entity into its answer late: held-out facts answered 0/14 after 240
    # steps, 10/14 after 500, 14/14 after 990 (one epoch, over budget); 3e-4 learned the form but not the content
    max_steps: int = 500
    batch_size: int = 8
    max_length: int = 256
    learning_rate: float = 1e-3
    warmup_steps: int = 25
    weight_decay: float = 0.0
    eval_every: int = 100
    save_every: int = 250
    heldout_per_source: int = 32
    gradient_checkpointing: bool = False
    eval_limit: int = 100


@dataclass(frozen=True)
class MathSynthConfig:
    """Synth. Math-Instruct / -Alignment (notebook 03): seeds, rephraser, verification and cleaning.

    ``source: world`` takes seeds from the tiny world's ``math/seeds.jsonl`` and decontaminates against its
    ``eval/*.jsonl``; ``hub`` loads ``seed_dataset`` (one config per ``seed_subsets`` entry) and the leaderboard's
    evaluation sets. ``rephraser: rules`` is the offline paraphrase grammar, ``model`` generates with
    ``generator_id`` (``temperature`` 0 is greedy). ``methods`` are MetaMath's ``rephrase`` and ``answer_aug``."""

    source: Literal["world", "hub"] = "world"
    seed_dataset: str | None = None
    seed_subsets: list[str] = field(default_factory=list)
    seed_split: str = "train"
    max_seeds: int | None = None
    rephraser: Literal["rules", "model"] = "rules"
    generator_id: str | None = None
    methods: list[Literal["rephrase", "answer_aug"]] = field(default_factory=lambda: ["rephrase", "answer_aug"])
    samples_per_method: int = 2
    batch_size: int = 8
    max_new_tokens: int = 512
    temperature: float = 0.7
    near_dup_ngram: int = 3
    near_dup_threshold: float = 0.8
    decontam_ngram: int = 13
    show_examples: int = 3


@dataclass(frozen=True)
class AlignmentConfig:
    """DPO and stepwise DPO (sDPO, arXiv 2403.19270) with trl's ``DPOTrainer`` (notebook 05).

    ``sources`` are preference datasets (schemas ``orca_dpo``, ``ultrafeedback``, ``math_alignment``) read, capped
    and weighted as the SFT mixture's sources; ``heldout_per_source`` pairs of each are kept apart to measure held-out
    preference accuracy. sDPO splits the training pairs into ``steps`` (T) chunks of equal size in ``order``
    (``easy_to_hard``: sources by the SFT model's preference accuracy, descending; ``random``: shuffled; ``given``:
    the order of ``sources``). Step t trains chunk t from M_{t-1} against the reference M_{t-1} for
    ``max_steps_per_step`` optimizer steps (null: one pass over the chunk); one-shot DPO trains all chunks for the sum
    of those steps. ``gamma_limit`` caps the pairs of a chunk on which the reference's mean log-ratio γ is measured
    (null: all); ``eval_limit`` is the mini-H6 items per task."""

    # paper Table 1 (alignment): Orca DPO Pairs 12.9K / 12.9K, Ultrafeedback Cleaned 60.8K / 60.8K, Synth.
    # Math-Alignment 126K / 20.1K, capped to ~60 DPO steps of 8 pairs in all on 2 CPU cores; sDPO with T = 2
    sources: list[MixtureSource] = field(default_factory=lambda: [
        MixtureSource("orca_dpo", "orca_dpo", path="preferences/orca_dpo.jsonl", max_used=200),
        MixtureSource("ultrafeedback", "ultrafeedback", path="preferences/ultrafeedback.jsonl", max_used=200),
        MixtureSource("math", "math_alignment", kind="stage", path="03_synthetic_math/synth_math_alignment.jsonl",
                      max_used=80, optional=True)])
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    steps: int = 2
    order: Literal["easy_to_hard", "random", "given"] = "easy_to_hard"
    beta: float = 0.1  # Zephyr's DPO recipe
    learning_rate: float = 5e-5
    max_steps_per_step: int | None = None
    batch_size: int = 8
    max_length: int = 192
    warmup_steps: int = 2
    heldout_per_source: int = 32
    eval_every: int = 10
    save_every: int = 10
    gradient_checkpointing: bool = False
    gamma_limit: int | None = None
    eval_limit: int = 100


@dataclass(frozen=True)
class EvalConfig:
    """H6 evaluation (notebook 07): ``source: world`` scores the tiny world's held-out items, ``hub`` the real
    datasets. ``num_fewshot`` overrides the leaderboard's shots per task (a short-context model needs fewer);
    ``limit`` caps the items per task (null: all). ``hub_root`` is a folder holding local copies of the leaderboard's
    datasets under their hub ids (``<hub_root>/allenai/ai2_arc``, as ``huggingface-cli download --repo-type dataset
    --local-dir`` writes them), for machines without the network; null loads them from the hub."""

    source: Literal["world", "hub"] = "world"
    hub_root: str | None = None
    # the tiny model was pretrained on 256-token blocks: fewer shots keep prompts inside what it has seen
    num_fewshot: dict[str, int] = field(default_factory=lambda: {
        "arc": 5, "hellaswag": 3, "mmlu": 3, "truthfulqa": 0, "winogrande": 5, "gsm8k": 2})
    # the same items per task as every stage scores (their eval_limit), so that notebook 07 finds every model it
    # scores already in the run's score cache; paired differences on 100 items per task resolve a few H6 points
    limit: int | None = 100
    batch_size: int = 16
    max_gen_toks: int = 96
    contamination_ngram: int = 13


@dataclass(frozen=True)
class TaskVectorMerge:
    """One merge of the two specialists' task vectors (their differences from the base): ``method`` is
    ``task_arithmetic``, ``ties`` or ``dare_ties``, with one weight (and density) per specialist."""

    name: str
    method: Literal["task_arithmetic", "ties", "dare_ties"]
    weights: list[float] = field(default_factory=lambda: [1.0, 1.0])
    densities: list[float] | None = None


@dataclass(frozen=True)
class MergingConfig:
    """Model merging (notebook 06): two specialists trained from the base model, then merged (paper Tables 6-7).

    Candidate 1 is the *math* specialist: the documents of ``math_text`` that contain ``math_marker`` (all if
    empty), plus the MATH-style ``math_seeds`` file of the tiny world if given. Candidate 2 is the *instruction*
    specialist: ``instruction_sources`` rendered with the chat template. Each trains with the ``train`` recipe.
    ``weights`` are candidate 2's weights in the linear and SLERP sweeps (0 is candidate 1, 1 is candidate 2);
    the ``streaming_weight`` merge is redone streaming on the checkpoints. ``eval_tasks`` are scored on the
    first ``eval_limit`` items each (null: all) with the preset's ``eval`` settings, as every stage scores."""

    # paper Tables 6-7: candidates with different strengths, merged. Candidate 1: a math specialist (the corpus's
    # word problems + the MATH-style seeds); candidate 2: an instruction specialist (lettered multiple choice)
    instruction_sources: list[MixtureSource] = field(default_factory=lambda: [
        MixtureSource("alpaca", "alpaca", path="instructions/alpaca.jsonl"),
        MixtureSource("openorca", "openorca", path="instructions/openorca.jsonl")])
    math_text: TextSource = field(default_factory=TextSource)
    math_marker: str = "####"
    math_seeds: str | None = "math/seeds.jsonl"
    # 3e-4, not 1e-3: at 1e-3 both specialists forgot most of HellaSwag and neither kept a strength of its own
    train: PretrainConfig = field(default_factory=lambda: PretrainConfig(
        max_steps=100, learning_rate=3e-4, warmup_steps=10, eval_every=50, eval_blocks=16, save_every=100))
    # candidate 2's weight: Average(0.6, 0.4), (0.5, 0.5), (0.4, 0.6)
    weights: list[float] = field(default_factory=lambda: [0.0, 0.4, 0.5, 0.6, 1.0])
    task_vector_merges: list[TaskVectorMerge] = field(default_factory=lambda: [
        TaskVectorMerge("task arithmetic", "task_arithmetic"),
        TaskVectorMerge("TIES", "ties", densities=[0.5, 0.5]),
        TaskVectorMerge("DARE-TIES", "dare_ties", densities=[0.5, 0.5])])
    streaming_weight: float = 0.5
    eval_tasks: list[str] = field(default_factory=lambda: ["arc", "hellaswag", "mmlu", "truthfulqa",
                                                           "winogrande", "gsm8k"])
    eval_limit: int | None = 100


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    dus: DUSConfig = field(default_factory=DUSConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    continued: ContinuedPretrainConfig = field(default_factory=ContinuedPretrainConfig)
    instruct: InstructConfig = field(default_factory=InstructConfig)
    align: AlignmentConfig = field(default_factory=AlignmentConfig)
    mathsynth: MathSynthConfig = field(default_factory=MathSynthConfig)
    merging: MergingConfig = field(default_factory=MergingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_preset(preset: str | Path, overrides: dict[str, Any] | None = None) -> Preset:
    """Load a named preset (``tiny``, ``small``, ``paper``) or a YAML file into a :class:`Preset`.

    ``overrides`` is a nested dict applied over the loaded preset as the YAML is over the defaults (e.g.
    ``{"pretrain": {"max_steps": 10}}`` changes one value and keeps the rest of ``pretrain``).
    """
    path = Path(preset)
    if str(preset) in PRESET_NAMES:
        path = PRESETS_DIR / f"{preset}.yaml"
    elif path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise PresetError(
            f"unknown preset {str(preset)!r}: choose one of {', '.join(PRESET_NAMES)}, "
            "or pass the path of an existing YAML file"
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise PresetError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise PresetError(f"{path} must hold a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    preset = _build(Preset, raw, where=path.name)
    if overrides:
        preset = _build(Preset, overrides, where=f"{path.name} overrides", base=preset)
    check_values(preset, where=path.name if not overrides else f"{path.name} with overrides")
    return preset


# The range of each numeric setting, by field name (a name means the same thing in every section).
_AT_LEAST_ONE = {"max_steps", "batch_size", "seq_len", "max_length", "eval_every", "save_every", "eval_blocks",
                 "max_blocks", "steps", "hidden_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "intermediate_size", "max_position_embeddings", "hub_context", "vocab_size",
                 "r", "alpha", "max_new_tokens", "max_gen_toks", "ngram_n", "contamination_ngram", "decontam_ngram",
                 "near_dup_ngram", "heldout_per_source", "samples_per_method", "max_docs",
                 "max_seeds", "max_steps_per_step", "min_frequency", "eval_items_per_task"}
_AT_LEAST_ZERO = {"warmup_steps", "limit", "eval_limit", "m", "reference_m", "show_examples", "weight_decay",
                  "fewshot_items_per_task", "max_used", "weight", "identity_every"}
_POSITIVE = {"learning_rate", "lora_learning_rate", "beta", "rope_theta", "rms_norm_eps", "temperature"}
_FRACTION = {"min_lr_ratio", "dropout", "heldout_fraction", "mmlu_heldout_share", "gsm8k_heldout_form_share",
             "near_dup_threshold", "streaming_weight", "adam_beta2"}


def check_values(preset: Any, where: str) -> None:
    """Raise :class:`PresetError` for a numeric setting out of its range (a step count, size or limit below what
    it means, a learning rate that is not a positive finite number, a share outside [0, 1]) or for SFT variants
    that do not fit their sources, naming the setting and the allowed range."""
    for path, value in _numbers(preset):
        name = path.rsplit(".", 1)[-1].split("[")[0]
        problem = (
            "must be a finite number" if isinstance(value, float) and not math.isfinite(value) else
            "must be at least 1" if name in _AT_LEAST_ONE and value < 1 else
            "must be at least 0" if name in _AT_LEAST_ZERO and value < 0 else
            "must be a number above 0" if name in _POSITIVE and value <= 0 else
            "must lie in [0, 1]" if name in _FRACTION and not 0 <= value <= 1 else None)
        if problem:
            raise PresetError(f"{where}: {path} = {value!r} {problem}; set it in the preset's YAML or overrides")
    instruct = preset.instruct
    names, sources = [v.name for v in instruct.variants], {s.name for s in instruct.sources}
    if REPLAY in sources:
        raise PresetError(f"{where}: instruct.sources names a source {REPLAY!r}, the name of instruct.replay's "
                          "documents in every mixture; rename that source")
    if not names or instruct.main not in names:
        raise PresetError(f"{where}: instruct.main = {instruct.main!r} names no SFT variant (variants: {names}); "
                          "list it under instruct.variants")
    for variant in instruct.variants:
        if not variant.sources or set(variant.sources) - sources:
            raise PresetError(f"{where}: instruct.variants {variant.name!r} uses {variant.sources}; each variant "
                              f"needs one or more of the sources {sorted(sources)}")


def _numbers(obj: Any, prefix: str = "") -> Iterator[tuple[str, int | float]]:
    """``(dotted path, value)`` of every int and float setting inside a dataclass, lists included."""
    items = ([(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj)
             else [(f"[{i}]", v) for i, v in enumerate(obj)] if isinstance(obj, list) else [])
    for name, value in items:
        path = f"{prefix}{name}" if name.startswith("[") or not prefix else f"{prefix}.{name}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value
        elif dataclasses.is_dataclass(value) or isinstance(value, list):
            yield from _numbers(value, path)


def _build(cls: type, data: Any, where: str, base: Any = None) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value type.

    Keys not in ``data`` keep their value in ``base`` (an instance of ``cls``) or, without one, the field's default;
    a key naming a nested dataclass is built over that value in turn."""
    if not isinstance(data, dict):
        raise PresetError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise PresetError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(fields)}")
    values = {}
    for key, value in data.items():
        under = getattr(base, key) if base is not None else _default(fields[key])
        values[key] = _coerce(hints[key], value, f"{where}:{key}", under)
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except (TypeError, ValueError) as err:
        raise PresetError(f"{where}: {err}") from err


def _default(f: dataclasses.Field) -> Any:
    """A field's default value (None when it has none)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _coerce(hint: Any, value: Any, where: str, under: Any = None) -> Any:
    """Check ``value`` against the type ``hint`` (dataclasses, Literal, unions, lists, scalars); a dataclass is
    built over ``under``, the value it overrides."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, under if isinstance(under, hint) else None)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise PresetError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                return _coerce(option, value, where)
            except PresetError as err:
                errors.append(str(err))
        raise PresetError(f"{where}: {value!r} matches none of the allowed types ({'; '.join(errors)})")
    if origin is dict:
        if not isinstance(value, dict):
            raise PresetError(f"{where}: expected a mapping, got {value!r}")
        key_hint, value_hint = typing.get_args(hint)
        return {_coerce(key_hint, k, where): _coerce(value_hint, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise PresetError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is type(None):
        if value is not None:
            raise PresetError(f"{where}: expected null, got {value!r}")
        return None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool) or not isinstance(value, hint):
        raise PresetError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
