"""Run folders: one folder per pipeline stage, holding its artifacts, ``metrics.json`` and ``manifest.json``.

A run directory looks like ``<run>/00_base_model/``, ``<run>/01_depth_up_scaling/`` ... Each notebook
opens its stage with :func:`start_stage`, which loads the preset, seeds every RNG and starts the clock;
:meth:`Stage.finish` writes the metrics and a manifest (versions, seed, data hashes, wall time, peak memory).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import transformers

from solar_utils.checkpoints import write_json_atomic
from solar_utils.config import Preset, load_preset
from solar_utils.tables import what_we_measured  # noqa: F401  (each notebook's last cell)

PACKAGES = ("solar-dus", "torch", "transformers", "tokenizers", "safetensors", "accelerate", "datasets",
            "peft", "trl", "bitsandbytes", "papermill", "numpy")


WORLD_STAGE = "00_base_model"


class MissingStageError(FileNotFoundError):
    """An earlier stage's output that this stage needs is not there."""


@dataclass
class Stage:
    """The running stage: its folder, its preset and seed, and what it has recorded so far."""

    name: str
    dir: Path
    preset: Preset
    seed: int
    started: float = field(default_factory=time.time)
    data_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.dir.parent

    @property
    def world_dir(self) -> Path:
        """Where stage 00 writes the tiny world (corpus, evaluation items, instruction and preference data)."""
        return self.run_dir / WORLD_STAGE / "world"

    @property
    def scores_dir(self) -> Path:
        """The run's score cache (:mod:`solar_utils.evaluation.cache`): every stage scores a model once, notebook 07
        finds the scores there."""
        return self.run_dir / "scores"

    def path(self, *parts: str) -> Path:
        """A path inside this stage's folder."""
        return self.dir.joinpath(*parts)

    def require(self, stage: str, *parts: str) -> Path:
        """The path of an earlier stage's artifact, or a clear error saying which notebook to run first."""
        path = self.run_dir.joinpath(stage, *parts)
        if not path.exists():
            raise MissingStageError(
                f"{self.name} needs {path}, which stage {stage} writes: run notebooks/{stage}.ipynb "
                f"(or `solar-repro run --only {stage[:2]}`) with output under {self.run_dir} first"
            )
        return path

    def record_data(self, label: str, path: Path) -> str:
        """Hash a data file or folder this stage read or wrote, for the manifest; returns the hash."""
        self.data_hashes[label] = sha256_path(path)
        return self.data_hashes[label]

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure as ``<name>.png`` in the stage folder (every shown figure is kept)."""
        out = self.path(f"{name}.png")
        tmp = out.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        tmp.replace(out)
        return out

    def finish(self, metrics: dict[str, Any]) -> Path:
        """Write ``metrics.json`` and ``manifest.json``; returns the metrics path."""
        write_json_atomic(self.path("manifest.json"), self.manifest())
        return write_json_atomic(self.path("metrics.json"), metrics)

    def manifest(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "preset": self.preset.to_dict(),
            "seed": self.seed,
            "versions": package_versions(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "data_sha256": self.data_hashes,
            "wall_time_s": round(time.time() - self.started, 2),
            "peak_rss_mb": peak_rss_mb(),
        }


def start_stage(name: str, preset: str | Path, seed: int, output_dir: str | Path) -> Stage:
    """Open a stage: load the preset, seed python/numpy/torch, create the stage folder."""
    config = load_preset(preset)
    transformers.set_seed(seed)
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return Stage(name=name, dir=out, preset=config, seed=seed)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
