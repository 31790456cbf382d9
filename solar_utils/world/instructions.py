"""Instruction data in the Alpaca-GPT4 and OpenOrca schemas (train entities only, no myths, no scripts).

Alpaca answers tersely (a lettered question gets its letter), OpenOrca explains under a system prompt, as the
GPT-4 answers of the real dataset do. Word problems are left to the math stage, so that an instruction
specialist and a math specialist have different strengths to merge.
"""

from __future__ import annotations

from solar_utils.world.config import WorldConfig
from solar_utils.world.entities import Universe
from solar_utils.world.exchanges import Exchanges, schedule
from solar_utils.world.phrasing import stream

KINDS = ("alpaca", "openorca")
ALPACA_MIX = {"mc": 0.35, "fact": 0.25, "describe": 0.15, "compare": 0.1, "arithmetic": 0.15}
OPENORCA_MIX = {"mc": 0.4, "fact": 0.2, "describe": 0.15, "compare": 0.1, "arithmetic": 0.15}
OPENORCA_SOURCES = {"mc": "flan", "fact": "t0", "describe": "niv", "compare": "niv", "arithmetic": "cot"}
SYSTEM_PROMPTS = ("", "You are a helpful assistant.",
                  "You are a helpful assistant. Think step by step and explain your answer.",
                  "You are a patient teacher. Answer the question and explain why.")


def alpaca(u: Universe, n: int, seed: int) -> list[dict]:
    rng = stream(seed, "instructions/alpaca")
    ex = Exchanges(u, rng)
    out = []
    for kind in schedule(rng, ALPACA_MIX, n):
        e = ex.make(kind)
        out.append({"instruction": e.instruction or e.prompt, "input": e.prompt if e.instruction else "",
                    "output": e.good})
    return out


def openorca(u: Universe, n: int, seed: int) -> list[dict]:
    rng = stream(seed, "instructions/openorca")
    ex = Exchanges(u, rng)
    out = []
    for i, kind in enumerate(schedule(rng, OPENORCA_MIX, n)):
        e = ex.make(kind)
        question = f"{e.instruction}\n\n{e.prompt}" if e.instruction else e.prompt
        out.append({"id": f"{OPENORCA_SOURCES[kind]}.{i}", "system_prompt": rng.choice(SYSTEM_PROMPTS),
                    "question": question, "response": e.good_explained})
    return out


def build_instructions(u: Universe, cfg: WorldConfig, seed: int) -> dict[str, list[dict]]:
    return {"alpaca": alpaca(u, cfg.n_alpaca, seed), "openorca": openorca(u, cfg.n_openorca, seed)}
