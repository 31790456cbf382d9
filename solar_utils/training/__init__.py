"""Training stages after pretraining: continued pretraining (Trainer) and instruction tuning (trl), each with
full fine-tuning, LoRA or QLoRA (peft + bitsandbytes), merged back into standard checkpoints."""

from solar_utils.training.adapters import guard_4bit, load_for_training, merge_adapters
from solar_utils.training.continued import ContinuedRun, continue_pretraining, recovery_step
from solar_utils.training.mixture import Pools, load_pools, runnable_variants, trained_as, variant_mixture
from solar_utils.training.sft import SFTRun, chat_replies, instruction_tune

__all__ = ["ContinuedRun", "Pools", "SFTRun", "chat_replies", "continue_pretraining", "guard_4bit", "instruction_tune",
           "load_for_training", "load_pools", "merge_adapters", "recovery_step", "runnable_variants", "trained_as",
           "variant_mixture"]
