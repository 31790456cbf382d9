"""A byte-level BPE tokenizer trained on our own text, with SOLAR-Instruct's chat template.

Encoding adds no special tokens (``<s>``, ``</s>`` are there to be placed explicitly: documents are packed with
``</s>`` between them, chat turns end with ``</s>``); byte-level BPE round-trips any text exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
SPECIAL_TOKENS = (UNK, BOS, EOS, PAD)
CHAT_MARKERS = ("### System:\n", "### User:\n", "### Assistant:\n")
MARKER_REPEATS = 64

# SOLAR-10.7B-Instruct's format: an optional system message, then "### User:" / "### Assistant:" turns; every
# assistant turn ends with EOS. ``add_generation_prompt`` opens the assistant's turn.
SOLAR_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% if message['content'] %}{{ '### System:\\n' + message['content'] + '\\n\\n' }}{% endif %}"
    "{% elif message['role'] == 'user' %}{{ '### User:\\n' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ '### Assistant:\\n' + message['content'] + eos_token + '\\n\\n' }}"
    "{% else %}{{ raise_exception('unknown role: ' + message['role']) }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Assistant:\\n' }}{% endif %}"
)


def _with_markers(texts: Iterable[str]) -> Iterator[str]:
    """The training texts, then the chat markers often enough to become a few tokens each."""
    yield from texts
    for _ in range(MARKER_REPEATS):
        yield "".join(m + "text\n\n" for m in CHAT_MARKERS)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a deterministic byte-level BPE on ``texts`` (stops early when no pair occurs ``min_frequency``
    times, so a closed vocabulary may give fewer than ``vocab_size`` tokens)."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(_with_markers(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                        unk_token=UNK, clean_up_tokenization_spaces=False)
    tokenizer.chat_template = SOLAR_CHAT_TEMPLATE
    return tokenizer
