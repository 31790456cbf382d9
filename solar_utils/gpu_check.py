"""The GPU check: what the `small` and `paper` presets need from an accelerator, on a toy model, in about a minute.

Run ``python -m solar_utils.gpu_check`` on a machine with CUDA (``--device cpu`` runs the same checks on the CPU, as
the tests do). Each check prints one line; the exit status is 0 when all pass, 1 when one fails, 2 when the device
asked for is not there. The checks:

- **bf16**: a forward and backward pass in bfloat16 on the device gives a finite loss and finite, non-zero gradients;
- **qlora**: the checkpoint loaded in QLoRA's 4-bit storage (bitsandbytes) with LoRA adapters, as every QLoRA stage
  loads it, has 4-bit layers and non-zero LoRA gradients after an inference pass (the bitsandbytes trap
  :func:`~solar_utils.training.adapters.guard_4bit` guards against);
- **dus**: depth up-scaling of the model on the device gives ``2·(n − m)`` layers whose forward pass runs there;
- **evaluation**: the H6 scorer on the device (log-likelihood and generation tasks) gives the CPU's scores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from solar_utils.checkpoints import save_model
from solar_utils.config import AdapterConfig
from solar_utils.dus import decoder_layers, depth_up_scale
from solar_utils.evaluation import MemorySource, evaluate
from solar_utils.evaluation.toy import build_model, build_tokenizer, toy_items, toy_texts

EVAL_TASKS = ("arc", "hellaswag", "gsm8k")


@dataclass(frozen=True)
class Check:
    """One check's outcome: its name, whether it passed, and what it measured."""

    name: str
    ok: bool
    detail: str


def _toy(seed: int = 0):
    """Toy items, their tokenizer and a random 4-layer Llama (float32, on the CPU)."""
    items = toy_items(seed, n_eval=6)
    tokenizer = build_tokenizer(toy_texts(items))
    return items, tokenizer, build_model(tokenizer, seed=seed, layers=4, max_positions=256)


def _batch(tokenizer, device: torch.device) -> torch.Tensor:
    return tokenizer(["Ada finds the apple at the market.", "Bo paints the boat on the shore."],
                     return_tensors="pt", padding=True)["input_ids"].to(device)


def check_bf16(device: torch.device) -> Check:
    """bfloat16 forward and backward on ``device``."""
    _, tokenizer, model = _toy()
    model = model.to(device=device, dtype=torch.bfloat16).train()
    ids = _batch(tokenizer, device)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    finite = torch.isfinite(loss).item() and all(g is not None and torch.isfinite(g).all().item() for g in grads)
    nonzero = sum(int(g is not None and g.abs().sum().item() > 0) for g in grads)
    return Check("bf16", bool(finite and nonzero == len(grads)),
                 f"loss {loss.item():.3f}, {nonzero}/{len(grads)} parameter gradients non-zero and finite")


def check_qlora(device: torch.device, work: Path) -> Check:
    """QLoRA's 4-bit base with LoRA adapters, as a stage loads it: LoRA gradients after an inference pass."""
    import bitsandbytes as bnb

    from solar_utils.training.adapters import load_for_training

    _, tokenizer, model = _toy()
    save_model(model, work / "toy", tokenizer=tokenizer)
    peft_model = load_for_training(work / "toy", AdapterConfig(method="qlora", r=4, alpha=8), device)
    four_bit = sum(isinstance(m, bnb.nn.Linear4bit) for m in peft_model.modules())
    ids = _batch(tokenizer, device)
    with torch.no_grad():
        peft_model(input_ids=ids)  # the inference pass after which an unguarded layer stops giving gradients
    peft_model.train()
    peft_model(input_ids=ids, labels=ids).loss.backward()
    lora_b = [p.grad for n, p in peft_model.named_parameters() if "lora_B" in n]
    nonzero = sum(int(g is not None and g.abs().sum().item() > 0) for g in lora_b)
    return Check("qlora", four_bit > 0 and lora_b != [] and nonzero == len(lora_b),
                 f"{four_bit} 4-bit layers; {nonzero}/{len(lora_b)} LoRA B gradients non-zero")


def check_dus(device: torch.device, m: int = 1) -> Check:
    """Depth up-scaling of a model that sits on ``device``; its forward pass runs there."""
    _, tokenizer, model = _toy()
    n = len(decoder_layers(model)[1])
    scaled = depth_up_scale(model.to(device), m)
    layers = len(decoder_layers(scaled)[1])
    with torch.no_grad():
        logits = scaled(input_ids=_batch(tokenizer, device)).logits
    ok = layers == 2 * (n - m) and logits.device.type == device.type and torch.isfinite(logits).all().item()
    return Check("dus", bool(ok), f"{n} -> {layers} layers (m = {m}), logits on {logits.device}")


def check_evaluation(device: torch.device) -> Check:
    """The H6 scorer on ``device`` against the CPU, on toy items (log-likelihood tasks and GSM8K's generation)."""
    items, tokenizer, model = _toy()
    source = MemorySource({task: items[task] for task in EVAL_TASKS})

    def scores(on: torch.device) -> dict[str, float]:
        result = evaluate(model.to(on), tokenizer, EVAL_TASKS, source=source, num_fewshot=1, max_gen_toks=16,
                          progress=False)
        return result.scores

    here, cpu = scores(device), scores(torch.device("cpu"))
    differ = [t for t in EVAL_TASKS if abs(here[t] - cpu[t]) > 1e-6]
    return Check("evaluation", not differ,
                 ", ".join(f"{t} {here[t]:.3f} (CPU {cpu[t]:.3f})" for t in EVAL_TASKS))


def run_checks(device: torch.device) -> list[Check]:
    """Every check on ``device``; a check that raises fails with the error as its detail."""
    with tempfile.TemporaryDirectory() as tmp:
        checks: list[tuple[str, Callable[[], Check]]] = [
            ("bf16", lambda: check_bf16(device)), ("qlora", lambda: check_qlora(device, Path(tmp))),
            ("dus", lambda: check_dus(device)), ("evaluation", lambda: check_evaluation(device))]
        results = []
        for name, check in checks:
            try:
                results.append(check())
            except Exception as err:  # noqa: BLE001 - the report names every failure; the others still run
                results.append(Check(name, False, f"{type(err).__name__}: {err}"))
        return results


def report(device: torch.device, results: list[Check]) -> str:
    """The device, the versions and one line per check."""
    import bitsandbytes
    import transformers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"device: {name} ({device}); torch {torch.__version__}, transformers {transformers.__version__}, "
             f"bitsandbytes {bitsandbytes.__version__}"]
    lines += [f"{'PASS' if r.ok else 'FAIL'} {r.name}: {r.detail}" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solar_utils.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    args = parser.parse_args(argv)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cuda", "cpu"):
        print(f"--device {args.device!r}: not a device this check knows; use cuda, cuda:N or cpu", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); run this "
              "on a machine with a GPU, or pass --device cpu to run the same checks on the CPU", file=sys.stderr)
        return 2
    results = run_checks(device)
    print(report(device, results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
