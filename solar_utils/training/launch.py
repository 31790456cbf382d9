"""What the stages' command lines share (continued pretraining, SFT, sDPO / DPO): their common arguments, and what
only the main process does under ``accelerate launch`` (one process per device): save the model, print a summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def stage_parser(description: str, model_flag: str, model_help: str) -> argparse.ArgumentParser:
    """``--preset``, the starting checkpoint ``model_flag``, ``--output-dir``, ``--world-dir`` and ``--seed``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--preset", default="tiny", help="tiny, small, paper, or a YAML file (default: tiny)")
    parser.add_argument(model_flag, required=True, type=Path, help=model_help)
    parser.add_argument("--output-dir", required=True, type=Path)
    parser.add_argument("--world-dir", type=Path, help="the tiny world (sources whose kind is 'world')")
    parser.add_argument("--seed", type=int, default=1234)
    return parser


def save_once(model: Any, folder: Path, tokenizer: Any) -> None:
    """On the main process only: ``model`` and ``tokenizer`` as a standard checkpoint in ``folder`` (replaced)."""
    from accelerate import PartialState

    from solar_utils.checkpoints import save_model

    if PartialState().is_main_process:
        save_model(model, folder, tokenizer=tokenizer, overwrite=True)


def print_summary(summary: dict[str, Any]) -> None:
    """On the main process only: ``summary`` with the number of processes, as one JSON line."""
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        print(json.dumps({"processes": state.num_processes} | summary))
