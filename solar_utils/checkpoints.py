"""Safetensors checkpoint I/O: atomic folders, shard reading/writing, model cards, load/save, hashing.

This module is the project's one place that touches weight files. Everything that writes to disk writes
atomically (a temporary sibling that is renamed into place) and returns the path it wrote. Pickled
``.bin`` weights are refused on purpose: unpickling can run arbitrary code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save_file

from solar_utils.quiet import quietly

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
SAFETENSORS_METADATA = {"format": "pt"}
RECIPE_CONFIG_KEY = "depth_up_scaling"
"""Config attribute where layer surgery (see :mod:`solar_utils.dus`) records its recipe."""

_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SIZE_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
AUX_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
             "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "chat_template.jinja", "chat_template.json",
             "generation_config.json")
"""The files besides weights, config and card that a checkpoint carries on: what ``save_pretrained`` writes for a
tokenizer (fast, sentencepiece or BPE files) and a generation config."""
logger = logging.getLogger(__name__)
LAYER_KEY = re.compile(r"^(?P<prefix>(?:.+?\.)?layers\.)(?P<index>\d+)\.(?P<rest>.+)$")
"""A decoder-layer tensor name, ``<prefix>layers.<index>.<rest>`` (e.g. ``model.layers.3.mlp.up_proj.weight``:
prefix ``model.layers.``, index 3, rest ``mlp.up_proj.weight``); ``layers`` starts the name or follows a dot. The
one definition: the config checks here, DUS and the merge planner (:mod:`solar_utils.merging.plan`) use it."""


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete or corrupt; the message names the problem and the fix."""


def parse_size(size: int | str) -> int:
    """Bytes in ``size``: an int or a string like ``"5GB"``, ``"200MB"`` (decimal, as the hub) or ``"1.5GiB"``."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*", str(size), flags=re.IGNORECASE)
        if not match:
            raise ValueError(f"cannot read size {size!r}; use an int of bytes or a string like '5GB' or '200MB'.")
        value = int(float(match[1]) * _SIZE_UNITS[(match[2] or "").upper()])
    if value <= 0:
        raise ValueError(f"size must be positive, got {size!r}.")
    return value


# ----------------------------------------------------------------------------------------------------------
# Atomic writing
# ----------------------------------------------------------------------------------------------------------


class UnsafeDestinationError(ValueError):
    """A write's destination is, contains or lies inside one of its inputs: replacing it would delete what it reads."""


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<tag>tmp|old)-(?:(?P<pid>\d+)-)?[0-9a-f]{12}$")
_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step


def _sibling(path: Path, tag: str) -> Path:
    """A fresh hidden name next to ``path`` naming the writing process (created by the caller with default,
    umask-respecting permissions): ``.NAME.tmp-<pid>-<hex>`` while writing, ``.NAME.old-<pid>-<hex>`` while swapping."""
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:12]}")


def _refuse_existing(dst: Path, overwrite: bool) -> None:
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} already exists; pass overwrite=True to replace it, or choose another path.")


def refuse_sources(dst: str | os.PathLike, sources: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`UnsafeDestinationError` when ``dst`` is, contains or lies inside one of ``sources``."""
    out = Path(dst).resolve()
    for source in sources:
        src = Path(source).resolve()
        relation = ("is" if out == src else "contains" if out in src.parents else
                    "lies inside" if src in out.parents else None)
        if relation:
            raise UnsafeDestinationError(
                f"the output {dst} {relation} the input {source}: replacing it would delete what this step reads. "
                "Write to a folder outside the inputs (for example a sibling folder).")


def _alive(pid: int | None) -> bool:
    """Whether the process that left a temporary name may still be writing (this process counts as alive)."""
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(dst: str | os.PathLike) -> list[str]:
    """Tidy what killed writes to ``dst`` left beside it; returns what was done, one line per leftover.

    A ``.NAME.old-*`` of a dead process is the previous ``dst`` of a swap that was interrupted: it is renamed back
    when ``dst`` is missing, else deleted; a ``.NAME.tmp-*`` of a dead process is a half-written folder: deleted.
    Leftovers of live processes (a write in progress) are left alone."""
    dst = Path(dst)
    if not dst.parent.is_dir():
        return []
    done = []
    leftovers = [(m, p) for p in dst.parent.iterdir() if (m := _LEFTOVER.match(p.name)) and m["name"] == dst.name]
    for match, path in sorted(leftovers, key=lambda item: item[0]["tag"] != "old"):
        if _alive(int(match["pid"]) if match["pid"] else None):
            continue
        if match["tag"] == "old" and not dst.exists():
            os.replace(path, dst)
            done.append(f"recovered {dst} from an interrupted replace ({path.name})")
        else:
            _remove(path)
            done.append(f"removed {path.name}, left by a write to {dst.name} that was killed")
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system cannot."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _replace(tmp: Path, dst: Path) -> None:
    """Put ``tmp`` at ``dst``, so that at every instant ``dst`` is the old or the new folder: swapped in one step
    where the system can, else the old one is renamed aside first (and :func:`recover` brings it back if a kill
    falls between the two renames)."""
    if not dst.exists():
        os.replace(tmp, dst)
    elif _exchange(tmp, dst):
        _remove(tmp)  # now the old folder
    else:
        old = _sibling(dst, "old")
        os.replace(dst, old)
        os.replace(tmp, dst)
        _remove(old)


@contextlib.contextmanager
def atomic_dir(dst: str | os.PathLike, overwrite: bool = False,
               sources: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary folder next to ``dst``; put it at ``dst`` on success, delete it on error.

    No half-written folder ever appears at ``dst``, and a replaced ``dst`` is the old or the new folder at every
    instant. Before any work: ``dst`` may not be, contain or lie inside one of ``sources`` (the step's inputs), an
    existing ``dst`` is replaced only with ``overwrite=True`` (checked again after the body runs), and leftovers of
    earlier killed writes to ``dst`` are tidied (:func:`recover`).
    """
    dst = Path(dst)
    refuse_sources(dst, sources)
    for line in recover(dst):
        logger.warning(line)
    _refuse_existing(dst, overwrite)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(dst, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _refuse_existing(dst, overwrite)
        _replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically; return ``path``."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------


def _shard_keys(shard: Path) -> set[str]:
    """The tensor names in a safetensors file's header (the header is validated against the file size)."""
    try:
        with safe_open(shard, framework="pt") as f:
            return set(f.keys())
    except Exception as exc:  # safetensors raises its own error type for every header problem
        raise CheckpointError(
            f"{shard} is not a valid safetensors file (corrupt or truncated header: {exc}); "
            "re-download or re-save the checkpoint."
        ) from exc


def _require_dir(src_dir: str | os.PathLike) -> Path:
    src = Path(src_dir)
    if not src.is_dir():
        raise CheckpointError(f"checkpoint folder {src} does not exist; check the path or run the stage writing it.")
    return src


def _read_index(src: Path) -> dict[str, Path]:
    try:
        weight_map = json.loads((src / INDEX_NAME).read_text(encoding="utf-8"))["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{src / INDEX_NAME} is not a valid shard index ({exc}); re-save the model.") from exc
    by_shard: dict[str, set[str]] = {}
    for name, shard in weight_map.items():
        by_shard.setdefault(shard, set()).add(name)
    for shard, names in sorted(by_shard.items()):
        path = src / shard
        if not isinstance(shard, str) or Path(shard).name != shard or shard in (".", ".."):
            raise CheckpointError(f"{INDEX_NAME} in {src} names shard {shard!r}, outside the checkpoint folder; an "
                                  "index may name only files beside it: re-save the checkpoint.")
        if not path.is_file():
            raise CheckpointError(
                f"{INDEX_NAME} in {src} names shard {shard!r}, which is missing; the checkpoint is incomplete: "
                "re-download or re-save it."
            )
        keys = _shard_keys(path)
        if keys != names:
            diff = sorted(keys ^ names)[:5]
            raise CheckpointError(
                f"shard {path} disagrees with {INDEX_NAME} (e.g. {diff}); the index and shards come from "
                "different saves: re-download or re-save the checkpoint."
            )
    return {name: src / shard for name, shard in weight_map.items()}


def checkpoint_files(src_dir: str | os.PathLike) -> dict[str, Path]:
    """Map each weight name to its safetensors file, from ``model.safetensors.index.json`` or ``model.safetensors``.

    Raises :class:`CheckpointError` for a missing folder, no safetensors weights (``.bin`` pickles are refused on
    purpose), an index naming a missing shard, shard keys disagreeing with the index, or a corrupt header.
    """
    src = _require_dir(src_dir)
    if (src / INDEX_NAME).is_file():
        return _read_index(src)
    single = src / WEIGHTS_NAME
    if single.is_file():
        return {name: single for name in sorted(_shard_keys(single))}
    pickles = sorted(p.name for p in src.glob("*.bin"))
    hint = (
        f" It holds pickled weights ({', '.join(pickles[:3])}), which are refused on purpose (unpickling can run "
        "code): convert them once in a trusted environment with save_pretrained(..., safe_serialization=True)."
        if pickles
        else " Save the model with save_model() or save_pretrained()."
    )
    raise CheckpointError(f"no safetensors weights ({WEIGHTS_NAME} or {INDEX_NAME}) in {src}.{hint}")


def read_config(src_dir: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's ``config.json`` as a dict, with a clear error when it is missing or unreadable."""
    path = _require_dir(src_dir) / CONFIG_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing; a checkpoint needs its config: re-save it (save_model).") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); re-save the checkpoint.") from exc


def tensor_shapes(files: Mapping[str, Path]) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from the safetensors headers of ``{name: shard}`` (no tensor data is read)."""
    by_shard: dict[Path, list[str]] = {}
    for name, shard in files.items():
        by_shard.setdefault(shard, []).append(name)
    shapes = {}
    for shard, names in by_shard.items():
        with safe_open(shard, framework="pt") as f:
            shapes.update({name: tuple(f.get_slice(name).get_shape()) for name in names})
    return shapes


def check_shapes(src_dir: str | os.PathLike, config: Mapping[str, Any], files: Mapping[str, Path]) -> None:
    """Raise :class:`CheckpointError` when ``config.json`` disagrees with the weights' headers: the embedding's
    ``[vocab_size, hidden_size]`` or the number of decoder layers (``num_hidden_layers``)."""
    where = Path(src_dir) / CONFIG_NAME
    embed = next((name for name in sorted(files) if name.endswith("embed_tokens.weight")), None)
    want = (config.get("vocab_size"), config.get("hidden_size"))
    if embed and all(isinstance(v, int) for v in want):
        got = tensor_shapes({embed: files[embed]})[embed]
        if got != want:
            raise CheckpointError(f"{where} says vocab_size {want[0]}, hidden_size {want[1]}, but {embed} is "
                                  f"{list(got)}: the config belongs to another model; re-save the checkpoint.")
    layers = {int(m["index"]) for name in files if (m := LAYER_KEY.match(name))}
    n = config.get("num_hidden_layers")
    if layers and isinstance(n, int) and layers != set(range(n)):
        raise CheckpointError(f"{where} says num_hidden_layers {n}, but the weights hold layers "
                              f"{_ranges(sorted(layers))}: the config belongs to another model; re-save the checkpoint.")


def iter_shard_tensors(src_dir: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(name, tensor)`` for every weight, one shard at a time (only one shard is open at once).

    The tensors are zero-copy views of the shard's memory map: clone any you keep beyond the next shard.
    """
    by_shard: dict[Path, list[str]] = {}
    for name, shard in checkpoint_files(src_dir).items():
        by_shard.setdefault(shard, []).append(name)
    for shard, names in sorted(by_shard.items()):
        with safe_open(shard, framework="pt") as f:
            for name in sorted(names):
                yield name, f.get_tensor(name)


def read_tensor(shard: str | os.PathLike, name: str) -> torch.Tensor:
    """One tensor as an owned copy; the file's memory map is released on return, so touched pages do not pile up."""
    with safe_open(shard, framework="pt") as f:
        return f.get_tensor(name).clone()


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------


class ShardWriter:
    """Write tensors into safetensors shards named exactly as transformers names them.

    ``add`` tensors in order; a shard is flushed to disk when the next tensor would push it past
    ``max_shard_size`` (a tensor larger than that gets a shard of its own), so peak memory is about one shard.
    ``close`` renames the shards to ``model-0000k-of-0000N.safetensors`` and writes
    ``model.safetensors.index.json``, or writes a single ``model.safetensors``. Usable as a context manager
    (closes on success).
    """

    def __init__(self, dst_dir: str | os.PathLike, max_shard_size: int | str = "5GB") -> None:
        self.dst_dir = Path(dst_dir)
        self.dst_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = parse_size(max_shard_size)
        self._pending: dict[str, torch.Tensor] = {}
        self._pending_storages: set[int] = set()
        self._pending_bytes = 0
        self._shard_names: list[list[str]] = []
        self._seen: set[str] = set()
        self._total_bytes = 0
        self._total_params = 0
        self._closed = False

    def _part(self, k: int) -> Path:
        return self.dst_dir / f".partial-{k:05d}.safetensors"

    def add(self, name: str, tensor: torch.Tensor) -> None:
        """Queue ``tensor`` under ``name``; flush the current shard first if it would overflow."""
        if self._closed:
            raise RuntimeError("ShardWriter is closed; create a new one to write more tensors.")
        if name in self._seen:
            raise ValueError(f"tensor {name!r} was already added; weight names must be unique.")
        if tensor.device.type == "meta":
            raise ValueError(f"tensor {name!r} is on the meta device and has no data; materialise the model first.")
        nbytes = tensor.numel() * tensor.element_size()
        if self._pending and self._pending_bytes + nbytes > self.max_bytes:
            self._flush()
        tensor = tensor.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in self._pending_storages:  # e.g. one mmap-backed tensor read twice; safetensors refuses aliases
            tensor = tensor.clone()
            storage = tensor.untyped_storage().data_ptr()
        self._seen.add(name)
        self._pending[name] = tensor
        self._pending_storages.add(storage)
        self._pending_bytes += nbytes
        self._total_bytes += nbytes
        self._total_params += tensor.numel()

    def _flush(self) -> None:
        save_file(self._pending, self._part(len(self._shard_names)), metadata=SAFETENSORS_METADATA)
        self._shard_names.append(list(self._pending))
        self._pending = {}
        self._pending_storages = set()
        self._pending_bytes = 0

    def close(self) -> Path:
        """Write the last shard, give the shards their final names, write the index; return the folder."""
        if self._closed:
            return self.dst_dir
        if self._pending or not self._shard_names:
            self._flush()
        self._closed = True
        count = len(self._shard_names)
        if count == 1:
            os.replace(self._part(0), self.dst_dir / WEIGHTS_NAME)
            return self.dst_dir
        weight_map = {}
        for k, names in enumerate(self._shard_names):
            final = f"model-{k + 1:05d}-of-{count:05d}.safetensors"
            os.replace(self._part(k), self.dst_dir / final)
            weight_map.update(dict.fromkeys(names, final))
        metadata = {"total_parameters": self._total_params, "total_size": self._total_bytes}
        write_json_atomic(self.dst_dir / INDEX_NAME, {"metadata": metadata, "weight_map": weight_map})
        return self.dst_dir

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


def copy_aux_files(src: str | os.PathLike, dst: str | os.PathLike) -> list[Path]:
    """Copy the files of :data:`AUX_FILES` that ``src`` holds (its tokenizer, chat template and generation config)
    into ``dst``; returns the copied paths (the hub's cache links them: their targets are copied). Nothing else is
    copied: a recipe's ``tokenizer_source`` may name any folder, and whatever else a user keeps there must not
    travel into a model that people then upload."""
    src, dst = _require_dir(src), Path(dst)
    return [Path(shutil.copy2(src / name, dst / name)) for name in AUX_FILES if (src / name).is_file()]


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5, 6]`` -> ``"0–2, 5–6"``: a readable form of a layer map."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _recipe_line(key: str, value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return f"- **{key}**: {_ranges(value)} ({len(value)} entries)"
    return f"- **{key}**: {json.dumps(value) if isinstance(value, (dict, list)) else value}"


def write_model_card(dst: str | os.PathLike, title: str, recipe: Mapping[str, Any], base: str | None = None) -> Path:
    """Write ``dst/README.md``: YAML front matter (library_name, tags, base_model) and a readable recipe section."""
    front: dict[str, Any] = {"library_name": "transformers", "tags": ["solar-dus"]}
    if "method" in recipe:
        front["tags"].append(str(recipe["method"]))
    if base:
        front["base_model"] = base
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "", f"# {title}", ""]
    if base:
        lines += [f"Built from `{base}`.", ""]
    lines += ["## Recipe", "", *(_recipe_line(k, v) for k, v in recipe.items()), ""]
    return write_text_atomic(Path(dst) / CARD_NAME, "\n".join(lines))


def default_card(config: Any) -> dict[str, Any] | None:
    """A model card for a model whose config records a layer-surgery recipe (see :mod:`solar_utils.dus`), else None."""
    recipe = getattr(config, RECIPE_CONFIG_KEY, None)
    if not recipe:
        return None
    title = f"{recipe['method']}: {recipe['n']} → {len(recipe['layer_map'])} layers"
    return {"title": title, "recipe": recipe, "base": None}


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------


@quietly
def save_model(
    model: Any,
    dst: str | os.PathLike,
    tokenizer: Any = None,
    card: dict[str, Any] | None = None,
    max_shard_size: int | str = "5GB",
    overwrite: bool = False,
) -> Path:
    """Save ``model`` (safetensors), ``tokenizer`` and a model card to ``dst`` atomically; return ``dst``.

    ``card`` holds :func:`write_model_card`'s keyword arguments; by default a card is written when the config
    records a layer-surgery recipe.
    """
    card = card if card is not None else default_card(model.config)
    with atomic_dir(dst, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)  # transformers 5 writes safetensors only
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if card is not None:
            write_model_card(tmp, **card)
    return Path(dst)


@quietly
def load_model(src: str | os.PathLike, **kwargs: Any) -> Any:
    """Validate the checkpoint folder, then ``AutoModelForCausalLM.from_pretrained`` (never remote code)."""
    from transformers import AutoModelForCausalLM

    if kwargs.pop("trust_remote_code", False):
        raise ValueError("load_model never runs remote code; remove trust_remote_code=True.")
    check_shapes(src, read_config(src), checkpoint_files(src))
    return AutoModelForCausalLM.from_pretrained(src, trust_remote_code=False, **kwargs)


def load_for_scoring(src: str | os.PathLike) -> Any:
    """:func:`load_model` for a model that is only scored (evaluation, log-ratios): onto this process's GPU when
    there is one, in the checkpoint's own dtype (its weights hash as the folder does), else onto the CPU."""
    if torch.cuda.is_available():
        return load_model(src, dtype="auto", device_map={"": torch.cuda.current_device()})
    return load_model(src)


def _tensor_digest(name: str, tensor: torch.Tensor) -> str:
    if tensor.device.type == "meta":
        raise ValueError(f"tensor {name!r} is on the meta device; there is nothing to hash.")
    data = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
    digest = hashlib.sha256(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
    digest.update(memoryview(data.numpy()))
    return digest.hexdigest()


def weights_sha256(model_or_dir: Any) -> str:
    """SHA-256 over all weights (name, dtype, shape, bytes) in name order.

    A model and the checkpoint ``save_model`` writes from it hash the same (tied copies are skipped exactly as
    ``save_pretrained`` skips them). A folder is read one shard at a time.
    """
    if isinstance(model_or_dir, (str, os.PathLike)):
        tensors: Iterable[tuple[str, torch.Tensor]] = iter_shard_tensors(model_or_dir)
    else:
        from transformers.modeling_utils import remove_tied_weights_from_state_dict

        tensors = remove_tied_weights_from_state_dict(model_or_dir.state_dict(), model_or_dir).items()
    digests = sorted(f"{name} {_tensor_digest(name, tensor)}" for name, tensor in tensors)
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
