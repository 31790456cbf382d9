"""Implicit DPO rewards (Rafailov et al., arXiv 2305.18290): r(x, y) = β · (log π(y|x) − log π_ref(y|x)).

Pairs are tokenized, truncated and padded exactly as trl 1.16's ``DPOTrainer`` does (chat template, completion
after the common prefix, ``keep_start`` truncation at ``max_length``), so accuracies and margins computed here agree
with trl's ``rewards/accuracies`` and ``rewards/margins``. Without a reference the reward is β · log π(y|x) itself:
sDPO's γ (arXiv 2403.19270, Sec. 2) is the reference's mean log p(chosen|x) − log p(rejected|x), and the SFT
model's own preference accuracy ranks sources from easy to hard.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from trl.data_utils import common_prefix_length
from trl.trainer.dpo_trainer import DataCollatorForPreference

from solar_utils.alignment.preferences import Preference


def _ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], **kwargs: bool) -> list[int]:
    return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)["input_ids"]


def tokenize_pair(tokenizer: PreTrainedTokenizerBase, pair: Preference) -> dict[str, list[int]]:
    """``prompt_ids``, ``chosen_ids``, ``rejected_ids`` as trl tokenizes a conversational pair."""
    prompt = _ids(tokenizer, pair["prompt"], add_generation_prompt=True)
    chosen = _ids(tokenizer, pair["prompt"] + pair["chosen"])
    rejected = _ids(tokenizer, pair["prompt"] + pair["rejected"])
    start = min(common_prefix_length(prompt, chosen), common_prefix_length(prompt, rejected))
    return {"prompt_ids": prompt[:start], "chosen_ids": chosen[start:], "rejected_ids": rejected[start:]}


@torch.no_grad()
def pair_logps(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs: list[Preference], max_length: int,
               batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probabilities of the chosen and rejected answers, ``[n, 2]``, and their token counts, ``[n, 2]``."""
    collate = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id, max_length=max_length)
    was_training = model.training
    model.eval()
    sums, counts = [], []
    for start in range(0, len(pairs), batch_size):
        batch = collate([tokenize_pair(tokenizer, p) for p in pairs[start:start + batch_size]])
        ids, keep = batch["input_ids"].to(model.device), batch["completion_mask"][:, 1:].bool().to(model.device)
        logits = model(input_ids=ids, attention_mask=batch["attention_mask"].to(model.device)).logits[:, :-1]
        answer = logits[keep].float()  # answer positions only: [tokens, vocab] in float32, not [batch, length, vocab]
        token_logps = answer.gather(-1, ids[:, 1:][keep][:, None]).squeeze(-1) - answer.logsumexp(-1)
        row_sums = torch.zeros(len(ids), device=ids.device).index_add_(0, keep.nonzero()[:, 0], token_logps)
        sums.append(torch.stack(row_sums.chunk(2), dim=1))
        counts.append(torch.stack(keep.sum(1).chunk(2), dim=1))
    model.train(was_training)
    return torch.cat(sums).cpu(), torch.cat(counts).cpu()


@dataclass(frozen=True)
class RewardStats:
    """Over ``n`` pairs: how often r(chosen) > r(rejected), the mean margin r(chosen) − r(rejected), and the mean
    DPO loss −log σ(margin)."""

    accuracy: float
    margin: float
    loss: float
    n: int


def reward_stats(policy: PreTrainedModel, reference: PreTrainedModel | None, tokenizer: PreTrainedTokenizerBase,
                 pairs: list[Preference], beta: float, max_length: int, batch_size: int = 16,
                 per_token: bool = False) -> RewardStats:
    """Implicit-reward statistics of ``policy`` against ``reference`` (None: no reference, r = β · log π(y|x));
    ``per_token`` divides each answer's log-ratio by its token count (a length-normalised reward)."""
    logps, counts = pair_logps(policy, tokenizer, pairs, max_length, batch_size)
    if reference is not None:
        logps = logps - pair_logps(reference, tokenizer, pairs, max_length, batch_size)[0]
    if per_token:
        logps = logps / counts.clamp(min=1)
    margins = beta * (logps[:, 0] - logps[:, 1])
    return RewardStats(accuracy=(margins > 0).float().mean().item(), margin=margins.mean().item(),
                       loss=-F.logsigmoid(margins).mean().item(), n=len(pairs))


def gamma(reference: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs: list[Preference], max_length: int,
          batch_size: int = 16) -> float:
    """sDPO's γ: the mean over pairs of log p_ref(chosen|x) − log p_ref(rejected|x). The DPO loss only falls below
    log 2 where the policy's log-ratio exceeds the reference's: a better-aligned reference (higher γ) sets a stricter
    lower bound for the policy."""
    return reward_stats(reference, None, tokenizer, pairs, 1.0, max_length, batch_size).margin


def easiness(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs_by_source: dict[str, list[Preference]],
             max_length: int, batch_size: int = 16) -> dict[str, float]:
    """Per source, the SFT model's preference accuracy: how often it gives the chosen answer a higher mean
    log-probability per token than the rejected one.

    sDPO orders sources by the SFT model's reward accuracy; against the SFT model itself as reference every implicit
    reward is 0, so we score the SFT model without a reference, normalised per token so that longer answers are not
    penalised for their length."""
    return {name: reward_stats(model, None, tokenizer, pairs, 1.0, max_length, batch_size, per_token=True).accuracy
            for name, pairs in pairs_by_source.items()}
