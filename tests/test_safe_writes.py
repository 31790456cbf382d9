"""No data lost: a write never deletes its own inputs, a replaced folder is the old or the new one at every
instant, and what killed writes leave behind is tidied by the next write (tested with real kills)."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from solar_utils import checkpoints
from solar_utils.checkpoints import UnsafeDestinationError, atomic_dir, recover, save_model
from solar_utils.dus import depth_up_scale_checkpoint
from solar_utils.merging import make_recipe, merge_checkpoints
from tests.conftest import make_tiny_model


def hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "f.txt").write_text(text)
    return path


@pytest.fixture
def base(tmp_path, tokenizer) -> Path:
    return save_model(make_tiny_model(layers=4, tokenizer=tokenizer), tmp_path / "ckpts" / "base", tokenizer=tokenizer)


@pytest.mark.parametrize("where", ["itself", "its parent", "inside it"])
def test_dus_refuses_an_output_that_would_delete_its_input(base, where):
    dst = {"itself": base, "its parent": base.parent, "inside it": base / "up"}[where]
    before = sorted(p.name for p in base.iterdir())
    with pytest.raises(UnsafeDestinationError, match="would delete what this step reads"):
        depth_up_scale_checkpoint(base, dst, 1, overwrite=True)
    assert sorted(p.name for p in base.iterdir()) == before and not hidden(base.parent)


def test_a_merge_into_the_parent_of_its_inputs_deletes_nothing(tmp_path, tokenizer):
    models = [save_model(make_tiny_model(layers=2, seed=s, tokenizer=tokenizer), tmp_path / "in" / f"m{s}",
                         tokenizer=tokenizer) for s in (0, 1)]
    beside = folder(tmp_path / "in" / "notes", "keep me")
    recipe = make_recipe("linear", models=[str(m) for m in models], weights=[0.5, 0.5])
    with pytest.raises(UnsafeDestinationError, match="contains the input"):
        merge_checkpoints(recipe, tmp_path / "in", overwrite=True)
    assert all((m / "config.json").is_file() for m in models) and (beside / "f.txt").read_text() == "keep me"
    assert merge_checkpoints(recipe, tmp_path / "merged").is_dir()


@pytest.mark.parametrize("exchange", [True, False], ids=["one-step swap", "two renames"])
def test_replace_leaves_only_the_new_folder(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(checkpoints, "_exchange", lambda a, b: False)
    dst = folder(tmp_path / "out", "old")
    with atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "f.txt").write_text("new")
    assert (dst / "f.txt").read_text() == "new" and not hidden(tmp_path)


def _killed_writer(dst: Path, body: str, kill_between_renames: bool = False) -> subprocess.CompletedProcess:
    """Run a write to ``dst`` in a child process that is SIGKILLed at the marked point."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        from solar_utils import checkpoints
        dst = Path({str(dst)!r})
        if {kill_between_renames!r}:
            checkpoints._exchange = lambda a, b: False
            real = os.replace
            def replace(a, b):
                real(a, b)
                if Path(b).name.startswith("." + dst.name + ".old-"):
                    os.kill(os.getpid(), signal.SIGKILL)
            checkpoints.os.replace = replace
        with checkpoints.atomic_dir(dst, overwrite=True) as tmp:
            (tmp / "f.txt").write_text("new")
            {body}
    """)
    return subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent.parent, capture_output=True,
                          text=True, timeout=120)


def test_a_write_killed_midway_keeps_the_old_folder_and_the_next_write_removes_its_temp(tmp_path):
    dst = folder(tmp_path / "out", "old")
    done = _killed_writer(dst, "os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (dst / "f.txt").read_text() == "old"
    assert [name.split("-")[0] for name in hidden(tmp_path)] == [".out.tmp"]
    with atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "f.txt").write_text("newer")
    assert (dst / "f.txt").read_text() == "newer" and not hidden(tmp_path)


def test_a_kill_between_the_renames_is_recovered_by_the_next_call(tmp_path):
    dst = folder(tmp_path / "out", "old")
    done = _killed_writer(dst, "pass", kill_between_renames=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not dst.exists() and [n.split("-")[0] for n in hidden(tmp_path)] == [".out.old", ".out.tmp"]
    assert recover(dst)[0].startswith(f"recovered {dst}")
    assert (dst / "f.txt").read_text() == "old" and not hidden(tmp_path)


def test_a_write_in_progress_is_left_alone(tmp_path):
    dst = tmp_path / "out"
    live = folder(tmp_path / f".out.tmp-{os.getpid()}-{'a' * 12}", "someone is writing")
    stale = folder(tmp_path / f".out.tmp-{'b' * 12}", "an older version's leftover")
    assert recover(dst) == [f"removed {stale.name}, left by a write to out that was killed"]
    assert live.is_dir() and not stale.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_one_step_swap_exchanges_two_folders(tmp_path):
    a, b = folder(tmp_path / "a", "A"), folder(tmp_path / "b", "B")
    assert checkpoints._exchange(a, b)
    assert (a / "f.txt").read_text() == "B" and (b / "f.txt").read_text() == "A"


def test_a_recipe_file_reads_its_relative_models_from_its_own_folder(tmp_path, tokenizer, monkeypatch):
    for seed in (0, 1):
        save_model(make_tiny_model(layers=2, seed=seed, tokenizer=tokenizer), tmp_path / "in" / f"m{seed}",
                   tokenizer=tokenizer)
    recipe = tmp_path / "recipes" / "avg.yml"
    recipe.parent.mkdir()
    recipe.write_text("merge_method: linear\nmodels:\n  - model: ../in/m0\n    parameters: {weight: 0.5}\n"
                      "  - model: ../in/m1\n    parameters: {weight: 0.5}\ndtype: float32\n")
    monkeypatch.chdir(tmp_path / "in")  # somewhere the relative paths mean nothing
    assert (merge_checkpoints(recipe, tmp_path / "out") / "config.json").is_file()
