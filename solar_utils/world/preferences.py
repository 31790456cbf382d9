"""Preference data in the Orca-DPO-pairs and UltraFeedback-binarized schemas.

Both lean on the train myths (chosen: the truth, rejected: the myth) so that alignment can lift TruthfulQA on
the held-out myths; the rest prefers right facts over wrong ones and full answers over partial ones. The two
sources differ in mix and difficulty, which sDPO's easy-to-hard ordering can use.
"""

from __future__ import annotations

import hashlib
import random

from solar_utils.world.config import WorldConfig
from solar_utils.world.entities import Universe
from solar_utils.world.exchanges import Exchanges, schedule
from solar_utils.world.instructions import SYSTEM_PROMPTS
from solar_utils.world.phrasing import stream

KINDS = ("orca_dpo", "ultrafeedback")
ORCA_DPO_MIX = {"myth": 0.4, "fact": 0.25, "mc": 0.2, "describe": 0.15}
ULTRAFEEDBACK_MIX = {"myth": 0.4, "fact": 0.3, "describe": 0.2, "compare": 0.1}
GOOD_SCORES = (8.0, 8.5, 9.0, 9.5, 10.0)
BAD_SCORES = {"myth": (1.0, 2.0, 3.0, 4.0), "fact": (1.0, 2.0, 3.0, 4.0), "describe": (4.0, 5.0, 6.0),
              "compare": (1.0, 2.0, 3.0)}


def orca_dpo(u: Universe, n: int, seed: int) -> list[dict]:
    rng = stream(seed, "preferences/orca_dpo")
    ex = Exchanges(u, rng)
    out = []
    for kind in schedule(rng, ORCA_DPO_MIX, n):
        e = ex.make(kind)
        question = f"{e.instruction}\n\n{e.prompt}" if e.instruction else e.prompt
        out.append({"system": rng.choice(SYSTEM_PROMPTS), "question": question, "chosen": e.good_explained,
                    "rejected": e.bad_explained})
    return out


def _chat(prompt: str, reply: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


def ultrafeedback(u: Universe, n: int, seed: int) -> list[dict]:
    rng: random.Random = stream(seed, "preferences/ultrafeedback")
    ex = Exchanges(u, rng)
    out = []
    for kind in schedule(rng, ULTRAFEEDBACK_MIX, n):
        e = ex.make(kind)
        out.append({"prompt": e.prompt, "prompt_id": hashlib.sha256(e.prompt.encode()).hexdigest(),
                    "chosen": _chat(e.prompt, e.good_explained), "rejected": _chat(e.prompt, e.bad_explained),
                    "score_chosen": rng.choice(GOOD_SCORES), "score_rejected": rng.choice(BAD_SCORES[kind])})
    return out


def build_preferences(u: Universe, cfg: WorldConfig, seed: int) -> dict[str, list[dict]]:
    return {"orca_dpo": orca_dpo(u, cfg.n_orca_dpo, seed), "ultrafeedback": ultrafeedback(u, cfg.n_ultrafeedback, seed)}
