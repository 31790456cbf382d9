import logging
import warnings

import datasets
import pytest
from transformers import TrainingArguments
from transformers.utils import logging as hf_logging
from trl import DPOConfig, SFTConfig

import solar_utils  # noqa: F401  (importing the package quiets the libraries)
from solar_utils.config import PretrainConfig
from solar_utils.quiet import library_bars_off, quietly
from solar_utils.training.arguments import trainer_arguments


def bars() -> tuple[bool, bool]:
    return not datasets.are_progress_bars_disabled(), hf_logging.is_progress_bar_enabled()


@pytest.mark.parametrize("before", [(True, True), (False, False), (True, False)])
def test_library_bars_are_off_inside_and_as_they_were_after(before):
    (datasets.enable_progress_bars if before[0] else datasets.disable_progress_bars)()
    (hf_logging.enable_progress_bar if before[1] else hf_logging.disable_progress_bar)()
    try:
        with library_bars_off():
            assert bars() == (False, False)
            with library_bars_off():
                assert bars() == (False, False)
            assert bars() == (False, False)
        assert bars() == before
    finally:
        datasets.enable_progress_bars()
        hf_logging.enable_progress_bar()


def test_quietly_restores_the_bars_when_the_call_raises():
    @quietly
    def fails() -> None:
        assert bars() == (False, False)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()
    assert bars() == (True, True)


def test_the_optional_kernel_note_is_dropped_and_real_warnings_are_kept():
    assert not logging.getLogger("bitsandbytes.backends.cpu.ops").isEnabledFor(logging.WARNING)
    assert logging.getLogger("bitsandbytes.backends.cpu.ops").isEnabledFor(logging.ERROR)
    assert logging.getLogger("bitsandbytes").isEnabledFor(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        solar_utils.quiet.quiet_libraries()
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
        warnings.warn("a real problem", FutureWarning)
    assert [str(w.message) for w in caught] == ["a real problem"]


@pytest.mark.parametrize("args_class", [TrainingArguments, SFTConfig, DPOConfig])
@pytest.mark.parametrize("enabled", [True, False])
def test_trainer_arguments_raise_no_deprecation_and_keep_the_setting(tmp_path, args_class, enabled):
    import torch

    cfg = PretrainConfig(gradient_checkpointing=enabled)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = trainer_arguments(args_class, cfg, tmp_path, 0, torch.device("cpu"), max_steps=1,
                                 lr_scheduler_type="constant")
    assert args.gradient_checkpointing is enabled
