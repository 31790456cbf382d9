"""JSON Lines: the one reader and writer of every ``.jsonl`` file the package reads or writes.

One JSON value per line (a record, in practice an object), UTF-8, non-ASCII characters written as they are
(``json.dumps(row, ensure_ascii=False)``), each line ending in ``"\\n"``. Reading skips blank lines; a line that
is not JSON is an error naming the file, the line number and what is wrong. Writes are atomic
(:func:`solar_utils.checkpoints.write_text_atomic`). This module imports neither torch nor transformers, so the
tiny world can use it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A JSONL file with a line that is not JSON; the message names the file and the line (``<path>:<line>``)."""


def dumps_jsonl(rows: Iterable[Any]) -> str:
    """``rows`` as JSON Lines text: one ``json.dumps(row, ensure_ascii=False)`` per line, each ending in a newline."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """The records of the JSONL file ``path``, in order; blank lines are skipped.

    A missing file raises :class:`FileNotFoundError` naming it; a line that is not valid JSON raises
    :class:`JsonlError` as ``<path>:<line>: not valid JSON (<reason> at column <c>)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no JSONL file at {path}")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise JsonlError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno})") from err
    return rows


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write ``rows`` to ``path`` as :func:`dumps_jsonl` renders them, atomically (a temporary sibling renamed into
    place, parents created); return the path."""
    from solar_utils.checkpoints import write_text_atomic  # imports torch: only when writing

    return write_text_atomic(path, dumps_jsonl(rows))
