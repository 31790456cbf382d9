"""Batched log-likelihood scoring and greedy generation for any local HF causal LM, with the harness's semantics.

Follows lm-evaluation-harness ``HFLM`` (``models/huggingface.py``) and ``TemplateLM`` (``api/model.py``):

- Tokenisation (``_encode_pair``): trailing spaces of the context move to the continuation; the whole string
  and the context are tokenised with the tokenizer's default special tokens (none added when the text already
  starts with the BOS string); the continuation is what follows the context's tokens. An empty context becomes
  the BOS (else EOS) token, as ``TemplateLM.loglikelihood`` does.
- Truncation (``_loglikelihood_tokens``): the model input is ``(context + continuation)[-(L+1):][:-1]`` with L
  the model's max positions (``n_positions`` / ``max_position_embeddings`` / ``n_ctx``, else the tokenizer's
  ``model_max_length``, else 2048), i.e. long contexts lose their left end; the continuation is always scored.
- Log-probabilities: ``log_softmax`` in float32 of the logits at the continuation positions, summed.
- Generation (``generate_until``): the context left-truncated to ``L - max_gen_toks`` tokens, left padding with
  an attention mask, greedy ``model.generate`` for at most ``max_gen_toks`` new tokens, decoded without special
  tokens and cut at the first occurrence of each stop string (the task's plus the EOS token's text).

Speed, where we go beyond the harness (same numbers up to float rounding): the harness runs one sequence per
request except for single-token continuations sharing a context. Here the requests of one item that were
truncated alike form a group, packed into one sequence: their longest common token prefix (the few-shot
context, usually) once, then each request's remaining tokens as a segment that sees only the prefix and itself
(a 4D attention mask; position ids continue the prefix's). One forward pass scores every choice of an item:
MMLU's " A".." D" are read off the prefix's last position, ARC's answers are short segments. Groups are sorted
by packed length (longest first) and batched with right padding, as the harness batches requests.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList

DEFAULT_MAX_LENGTH = 2048
MAX_GEN_TOKS = 256


def model_max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """The harness's ``resolve_max_length``: config positions, else tokenizer limit, else 2048."""
    config = model.config.get_text_config()
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit and limit < 10**9 else DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class _Row:
    """One request as model input: scored positions are the last ``len(targets)`` of ``tokens``;
    ``cut`` tokens were truncated from the left."""

    tokens: list[int]
    targets: list[int]
    cut: int

    @property
    def start(self) -> int:
        return len(self.tokens) - len(self.targets)


@dataclass
class _Group:
    """Rows sharing their first ``prefix`` input tokens; ``ids`` index the caller's flat request list.

    Packed as one sequence: the prefix, then each longer row's remaining tokens as its own segment.
    """

    ids: list[int]
    rows: list[_Row]
    prefix: int

    @property
    def packed_length(self) -> int:
        return self.prefix + sum(len(r.tokens) - self.prefix for r in self.rows)

    def singletons(self) -> list[_Group]:
        return [_Group([i], [r], len(r.tokens)) for i, r in zip(self.ids, self.rows, strict=True)]


class Scorer:
    """Scores ``(context, continuation)`` requests and generates greedily, batching ``batch_size`` sequences.

    ``share_prefix=False`` runs one full sequence per request (the harness's plain path), for comparison.
    Packing needs the model to honour a custom 4D attention mask (transformers' eager and SDPA attention do);
    the first packed batch is checked against the plain path and packing is switched off, with a warning,
    where they disagree. The model is put in eval mode while scoring and restored afterwards.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, batch_size: int = 16,
                 max_length: int | None = None, share_prefix: bool = True, progress: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.share_prefix, self.progress = batch_size, share_prefix, progress
        self.max_length = max_length or model_max_length(model, tokenizer)
        self.device = model.device
        prefix_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if prefix_id is None:
            raise ValueError("the tokenizer has neither a BOS nor an EOS token to condition empty contexts on")
        self.prefix_token_id: int = prefix_id
        self._prefix_text = tokenizer.decode([prefix_id])
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_token_id: int = pad if pad is not None else 0
        self.packing: bool | None = None  # unknown until the first packed batch has been checked

    # ---- tokenisation -------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """``tok_encode`` for many texts: default special tokens unless a text starts with the BOS string."""
        out: list[list[int]] = [[] for _ in texts]
        for add_special in (True, False):
            idx = [i for i, t in enumerate(texts) if self._has_prefix_text(t) != add_special]
            if idx:
                ids = self.tokenizer([texts[i] for i in idx], add_special_tokens=add_special)["input_ids"]
                for i, seq in zip(idx, ids, strict=True):
                    out[i] = list(seq)
        return out

    def _has_prefix_text(self, text: str) -> bool:
        return bool(self._prefix_text) and text.startswith(self._prefix_text)

    def encode_pairs(self, requests: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """Context and continuation tokens per request (``_encode_pair``; empty context → prefix token)."""
        moved = []
        for context, continuation in requests:
            n_spaces = len(context) - len(context.rstrip())
            if n_spaces:
                context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
            moved.append((context, continuation))
        contexts = sorted({c for c, _ in moved if c})
        context_ids = dict(zip(contexts, self.encode(contexts), strict=True))
        wholes = iter(self.encode([c + x for c, x in moved if c]))
        out = []
        for context, continuation in moved:
            if context:
                ctx = context_ids[context]
                out.append((ctx, next(wholes)[len(ctx):]))
                continue
            cont = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
            starts_with_prefix = bool(cont) and cont[0] == self.prefix_token_id
            out.append((cont[:1], cont[1:]) if starts_with_prefix else ([self.prefix_token_id], cont))
        return out

    # ---- log-likelihoods ----------------------------------------------------------------------------------
    def loglikelihoods(self, groups: Sequence[Sequence[tuple[str, str]]], desc: str = "loglikelihood"
                       ) -> list[list[float]]:
        """Summed continuation log-probs for each request, grouped as given (one group per item)."""
        flat = [req for group in groups for req in group]
        rows = [self._row(i, ctx, cont) for i, (ctx, cont) in enumerate(self.encode_pairs(flat))]
        plan: list[_Group] = []
        offset = 0
        for group in groups:
            ids = list(range(offset, offset + len(group)))
            offset += len(group)
            plan.extend(self._plan(ids, [rows[i] for i in ids]))
        plan.sort(key=lambda g: (-g.packed_length, g.rows[0].tokens[: g.prefix]))
        scores = [0.0] * len(flat)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), tqdm(total=len(flat), desc=desc, disable=not self.progress) as bar:
                for start in range(0, len(plan), self.batch_size):
                    batch = plan[start: start + self.batch_size]
                    for i, value in self._score_batch(batch):
                        scores[i] = value
                    bar.update(sum(len(g.ids) for g in batch))
        finally:
            self.model.train(was_training)
        out, offset = [], 0
        for group in groups:
            out.append(scores[offset: offset + len(group)])
            offset += len(group)
        return out

    def _row(self, index: int, context: list[int], continuation: list[int]) -> _Row:
        if not continuation:
            raise ValueError(f"request {index}: the continuation is empty after tokenisation")
        if len(continuation) > self.max_length:
            raise ValueError(f"request {index}: continuation of {len(continuation)} tokens exceeds the model's "
                             f"{self.max_length} positions")
        whole = context + continuation
        cut = max(0, len(whole) - self.max_length - 1)
        return _Row(whole[cut:-1], continuation, cut)

    def _plan(self, ids: list[int], rows: list[_Row]) -> list[_Group]:
        """Groups of an item's rows truncated alike that share a common prefix; singletons otherwise."""
        if not self.share_prefix:
            return _Group(ids, rows, 0).singletons()
        by_cut: dict[int, list[tuple[int, _Row]]] = {}
        for i, row in zip(ids, rows, strict=True):
            by_cut.setdefault(row.cut, []).append((i, row))
        groups = []
        for members in by_cut.values():
            group = _Group([i for i, _ in members], [r for _, r in members],
                           _common_prefix([r.tokens for _, r in members]))
            groups.extend([group] if len(members) > 1 and group.prefix else group.singletons())
        return groups

    def _score_batch(self, batch: list[_Group]) -> list[tuple[int, float]]:
        packed = any(len(g.rows) > 1 and g.packed_length > g.prefix for g in batch)
        if packed and self.packing is False:
            return self._score_singletons(batch)
        results = self._forward(batch)
        if packed and self.packing is None:
            self.packing = self._packing_agrees(batch, dict(results))
            if not self.packing:
                warnings.warn(f"{type(self.model).__name__} does not honour custom 4D attention masks; "
                              "scoring each request in full instead", stacklevel=3)
                return self._score_singletons(batch)
        return results

    def _score_singletons(self, batch: list[_Group]) -> list[tuple[int, float]]:
        singles = [s for g in batch for s in g.singletons()]
        return [r for k in range(0, len(singles), self.batch_size)
                for r in self._forward(singles[k: k + self.batch_size])]

    def _packing_agrees(self, batch: list[_Group], packed: dict[int, float]) -> bool:
        """Compare the first packed group with its requests scored one by one."""
        group = next(g for g in batch if len(g.rows) > 1 and g.packed_length > g.prefix)
        tolerance = 1e-3 if self.model.dtype == torch.float32 else 5e-2
        return all(abs(packed[i] - value) <= tolerance * max(1.0, abs(value))
                   for i, value in self._forward(group.singletons()))

    def _forward(self, batch: list[_Group]) -> list[tuple[int, float]]:
        """One forward pass over the packed groups (right-padded); summed target log-probs per request.

        A segment attends to the prefix and to itself, with position ids continuing the prefix's, so it sees
        exactly what its request's own sequence would. Without segments no mask is needed (plain causal).
        """
        width = max(g.packed_length for g in batch)
        inputs = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        positions = torch.zeros((len(batch), width), dtype=torch.long)
        segments = torch.full((len(batch), width), -2, dtype=torch.long)  # -1 prefix, k segment k, -2 padding
        where: list[tuple[int, int, _Row, int]] = []  # (slot, request id, row, packed index of position prefix)
        for slot, g in enumerate(batch):
            inputs[slot, : g.prefix] = torch.tensor(g.rows[0].tokens[: g.prefix])
            positions[slot, : g.prefix] = torch.arange(g.prefix)
            segments[slot, : g.prefix] = -1
            offset = g.prefix
            for k, (i, row) in enumerate(zip(g.ids, g.rows, strict=True)):
                tail = row.tokens[g.prefix:]
                where.append((slot, i, row, offset if tail else g.prefix))
                if tail:
                    inputs[slot, offset: offset + len(tail)] = torch.tensor(tail)
                    positions[slot, offset: offset + len(tail)] = torch.arange(g.prefix, len(row.tokens))
                    segments[slot, offset: offset + len(tail)] = k
                    offset += len(tail)
        kwargs = {}
        if bool((segments >= 0).any()):
            causal = torch.ones((width, width), dtype=torch.bool).tril()
            visible = causal & ((segments[:, None, :] == -1) | (segments[:, None, :] == segments[:, :, None]))
            mask = torch.zeros(visible.shape, dtype=self.model.dtype)
            mask.masked_fill_(~visible, torch.finfo(self.model.dtype).min)
            kwargs = {"attention_mask": mask[:, None].to(self.device), "position_ids": positions.to(self.device)}
        logits = self.model(input_ids=inputs.to(self.device), **kwargs).logits
        results = []
        for slot, i, row, tail_at in where:
            prefix = batch[slot].prefix
            index = [j if j < prefix else tail_at + j - prefix for j in range(row.start, len(row.tokens))]
            logp = torch.log_softmax(logits[slot, index].float(), dim=-1)
            targets = torch.tensor(row.targets, device=logp.device)
            results.append((i, float(logp.gather(1, targets[:, None]).sum())))
        return results

    # ---- generation ---------------------------------------------------------------------------------------
    def generate(self, contexts: Sequence[str], until: Sequence[str], max_gen_toks: int = MAX_GEN_TOKS,
                 desc: str = "generate") -> list[str]:
        """Greedy continuations of ``contexts``, cut at the first stop string (``until`` + the EOS text)."""
        max_context = self.max_length - max_gen_toks
        if max_context <= 0:
            raise ValueError(f"max_gen_toks {max_gen_toks} leaves no room for a context in the model's "
                             f"{self.max_length} positions: lower max_gen_toks")
        stops = list(until)
        if self.tokenizer.eos_token is not None and self.tokenizer.eos_token not in stops:
            stops.append(self.tokenizer.eos_token)
        encoded = [ids[-max_context:] for ids in self.encode(contexts)]
        order = sorted(range(len(contexts)), key=lambda i: (-len(encoded[i]), contexts[i]))
        outputs = [""] * len(contexts)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), tqdm(total=len(contexts), desc=desc, disable=not self.progress) as bar:
                for start in range(0, len(order), self.batch_size):
                    chunk = order[start: start + self.batch_size]
                    for i, text in zip(chunk, self._generate_batch([encoded[i] for i in chunk], stops,
                                                                   max_gen_toks), strict=True):
                        outputs[i] = text
                    bar.update(len(chunk))
        finally:
            self.model.train(was_training)
        return outputs

    def _generate_batch(self, encoded: list[list[int]], stops: list[str], max_gen_toks: int) -> list[str]:
        width = max(len(ids) for ids in encoded)
        inputs = torch.full((len(encoded), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(inputs)
        for k, ids in enumerate(encoded):
            inputs[k, width - len(ids):] = torch.tensor(ids)
            mask[k, width - len(ids):] = 1
        generated = self.model.generate(
            input_ids=inputs.to(self.device), attention_mask=mask.to(self.device), max_new_tokens=max_gen_toks,
            do_sample=False, pad_token_id=self.pad_token_id, use_cache=True,
            stopping_criteria=StoppingCriteriaList([_StopStrings(self.tokenizer, stops, width)]),
        )
        texts = self.tokenizer.batch_decode(generated[:, width:].tolist(), skip_special_tokens=True)
        return [_cut(text, stops) for text in texts]


class _StopStrings(StoppingCriteria):
    """Marks a sequence done once its generated text contains a stop string (special tokens included)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stops: list[str], prompt_width: int) -> None:
        self.tokenizer, self.stops, self.prompt_width = tokenizer, stops, prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:].tolist(), skip_special_tokens=False)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


def _cut(text: str, stops: Sequence[str]) -> str:
    """``postprocess_generated_text``: keep what precedes each stop string, applied in order."""
    for stop in stops:
        if stop:
            text = text.split(stop)[0]
    return text


def _common_prefix(seqs: list[list[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for k in range(n):
        if any(s[k] != first[k] for s in seqs[1:]):
            return k
    return n
