"""Alignment after instruction tuning: DPO and stepwise DPO (sDPO, arXiv 2403.19270) on trl's ``DPOTrainer``, on
preference pairs converted from Orca-DPO-pairs, UltraFeedback and Synth. Math-Alignment records."""

from solar_utils.alignment.dpo import AlignmentError, DPORun, check_tokenizer, load_reference, run_dpo, steps_for
from solar_utils.alignment.preferences import (
    PREFERENCE_SCHEMAS,
    Preference,
    PreferenceData,
    convert_source,
    load_preferences,
    to_preference,
)
from solar_utils.alignment.rewards import RewardStats, easiness, gamma, pair_logps, reward_stats, tokenize_pair
from solar_utils.alignment.sdpo import SDPORun, SDPOStep, one_shot_dpo, partition, run_sdpo

__all__ = ["PREFERENCE_SCHEMAS", "AlignmentError", "DPORun", "Preference", "PreferenceData", "RewardStats", "SDPORun",
           "SDPOStep", "check_tokenizer", "convert_source", "easiness", "gamma", "load_preferences", "load_reference",
           "one_shot_dpo", "pair_logps", "partition", "reward_stats", "run_dpo", "run_sdpo", "steps_for",
           "to_preference", "tokenize_pair"]
