"""Turn wiring of MAI sessions (ref → tar1 → tar2 → tar3): the training objective and the final-turn query."""
from __future__ import annotations

import torch
from torch import nn

from mai.dataloader.text import history_captions, pre_caption
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt

REGIMES = ("combination", "rollback", "single-turn")


def _history_texts(texts: dict[str, list[str]], history: int) -> list[str]:
    """Each session's concatenated history captions through the BLIP text processor, as the original:
    "FIRST: c0 SECOND: c1" -> "first c0 second c1" (50 words)."""
    return [pre_caption(history_captions(list(c))) for c in zip(*(texts[f"cap{i}"] for i in range(history)))]


def _check(regime: str, history: int) -> None:
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    if history not in (2, 3):
        raise ValueError(f"history must be 2 (FC-style) or 3 (FIQ-style), got {history}")


class MultiTurnObjective(nn.Module):
    """All turns of a batch of sessions in one forward (so DDP sees one forward per backward).

    `tokens`: frozen-encoder tokens keyed `ref, tar1, tar2, tar3` and, for rollback, `back` (the image
    the final modifier returns to); `texts`: cleaned `cap0..cap3, mod1..mod3` (+ `back_cap`).
    Returns the CCL terms of every turn, keyed `t{turn}/{name}` (all weight 1, summed by the caller).
    """

    def __init__(self, model: Blip2QformerCirAlignPrompt, regime: str, history: int = 2):
        super().__init__()
        _check(regime, history)
        self.model, self.regime, self.history = model, regime, history

    def forward(self, tokens: dict[str, torch.Tensor], texts: dict[str, list[str]]) -> dict[str, torch.Tensor]:
        m = self.model
        l1, z1 = m({"image": tokens["ref"], "target": tokens["tar1"], "text_input": texts["mod1"],
                    "ref_cap": texts["cap0"], "tar_cap": texts["cap1"]}, "single")
        losses = {f"t1/{k}": v for k, v in l1.items()}
        if self.regime == "single-turn":
            return losses
        l2, z2 = m({"image": tokens["tar1"], "target": tokens["tar2"], "text_input": texts["mod2"],
                    "ref_cap": texts["cap1"], "tar_cap": texts["cap2"], "fusion": z1}, "single")
        losses.update({f"t2/{k}": v for k, v in l2.items()})
        final = {"target": tokens["tar3"], "text_input": texts["mod3"], "tar_cap": texts["cap3"]}
        if self.regime == "rollback":
            l3, _ = m({**final, "image": tokens["back"], "ref_cap": texts["back_cap"], "fusion": z2}, "single")
        else:
            fusion = z2
            if self.history == 3:
                fusion = m({"image": tokens["tar2"], "ref_cap": texts["cap2"], "fusion": z2}, "single_no_target")
            l3 = m({**final, "fusion": fusion, "ref_cap": _history_texts(texts, self.history)}, "multi")
        losses.update({f"t3/{k}": v for k, v in l3.items()})
        return losses


@torch.no_grad()
def final_turn_query(model: Blip2QformerCirAlignPrompt, tokens: dict[str, torch.Tensor],
                     texts: dict[str, list[str]], regime: str, history: int = 2) -> torch.Tensor:
    """The final-turn query feature f_q [B, 256] built turn by turn as the original's `validate.py` does."""
    _check(regime, history)
    if regime == "single-turn":
        return model.query_single(tokens["ref"], texts["cap0"], texts["mod1"])[0]
    z0 = model.bsa(tokens["ref"], texts["cap0"])
    z1 = model.carry(z0, model.bsa(tokens["tar1"], texts["cap1"], z0))
    if regime == "rollback":
        return model.query_single(tokens["back"], texts["back_cap"], texts["mod3"], fusion=z1)[0]
    fusion = z1
    if history == 3:
        fusion = model.carry(z1, model.bsa(tokens["tar2"], texts["cap2"], z1))
    return model.query_multi(fusion, _history_texts(texts, history), texts["mod3"])
