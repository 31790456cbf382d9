"""The GPU check script: its checks pass on the CPU, a failure is reported while the rest still run, and asking
for a GPU where there is none is a clear error (exit 2)."""

import pytest
import torch

from solar_utils import gpu_check


def test_every_check_passes_on_the_cpu(capsys):
    assert gpu_check.main(["--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("device: CPU") and "bitsandbytes" in lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == ["PASS bf16", "PASS qlora", "PASS dus", "PASS evaluation"]
    assert "4 -> 6 layers" in lines[3] and "LoRA B gradients non-zero" in lines[2]


def test_a_failing_check_is_reported_and_the_others_still_run(monkeypatch, capsys):
    def broken(device, m=1):
        raise RuntimeError("no kernel for this device")

    for name in ("check_bf16", "check_evaluation"):
        monkeypatch.setattr(gpu_check, name, lambda device, name=name: gpu_check.Check(name[6:], True, "ok"))
    monkeypatch.setattr(gpu_check, "check_qlora", lambda device, work: gpu_check.Check("qlora", True, "ok"))
    monkeypatch.setattr(gpu_check, "check_dus", broken)
    assert gpu_check.main(["--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL dus: RuntimeError: no kernel for this device" in out and "PASS evaluation: ok" in out


def test_asking_for_a_missing_gpu_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "no CUDA device here" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["cuda:x", "tpu", "meta"])
def test_a_bad_device_name_is_a_clear_error(bad, capsys):
    assert gpu_check.main(["--device", bad]) == 2
    assert f"--device {bad!r}: not a device this check knows" in capsys.readouterr().err
