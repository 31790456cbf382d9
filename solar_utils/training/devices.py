"""Device-aware defaults: where training runs, in which precision, and how a 4-bit base is placed.

trl's configs default to ``bf16=True`` (fails on CPU) and both trl and peft's k-bit preparation default to
gradient checkpointing (1.8x slower on tiny models): these helpers pick values from the hardware instead.
"""

from __future__ import annotations

import torch
from accelerate import PartialState

from solar_utils.pretrain import bf16_available


def training_device() -> torch.device:
    """The accelerator when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def mixed_precision_bf16(device: torch.device) -> bool:
    """bf16 mixed precision for trl stages: on GPUs that support it, never on CPUs."""
    return device.type == "cuda" and bf16_available(device)


def compute_dtype(device: torch.device) -> torch.dtype:
    """The compute dtype of 4-bit layers: bf16 on GPUs that support it, float32 elsewhere."""
    return torch.bfloat16 if mixed_precision_bf16(device) else torch.float32


def kbit_device_map(device: torch.device) -> dict[str, int | str]:
    """Where a 4-bit model is loaded: this process's GPU (one per process under ``accelerate``), or the CPU."""
    return {"": PartialState().local_process_index} if device.type == "cuda" else {"": "cpu"}
