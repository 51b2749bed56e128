"""FashionMT final-turn evaluation (protocol `fashionmt.final_turn`): gallery of image+caption features, turn-by-turn queries."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common.data.fashionmt import FashionMT
from common.metrics import final_turn_recall
from common.retrieval import rank_names, topk_cosine
from common.viewer import save_predictions
from mai.dataloader.fashionmt import IMAGE_KEYS, ImageTokens, SessionDataset, collate_sessions
from mai.dataloader.text import pre_caption
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt
from mai.models.image_encoder import FrozenImageEncoder
from mai.models.multi_turn import final_turn_query

PROTOCOL = "fashionmt.final_turn"
MAX_K = 20


@torch.no_grad()
def evaluate_fashionmt(model: Blip2QformerCirAlignPrompt, encoder: FrozenImageEncoder, reader: FashionMT,
                       regime: str, history: int, cache_dir: Path | None, batch_size: int = 64,
                       predictions_dir: Path | None = None) -> dict[str, float]:
    """Final-turn R@1/5/10/20 and mean; the gallery is the index file (history images stay in it)."""
    gallery = reader.gallery(PROTOCOL)
    target_key = "tar1" if regime == "single-turn" else "tar3"
    targets = [getattr(s, target_key) for s in reader.queries]
    position = {n: i for i, n in enumerate(gallery)}
    absent = [t for t in targets if t not in position]
    if absent:
        raise ValueError(f"{reader.index_file}: gallery: target {absent[0]!r} is not in the gallery "
                         f"({len(absent)} targets missing)")
    counts = Counter(gallery)
    repeated = [t for t in targets if counts[t] > 1]
    if repeated:  # the original asserts that each target occurs exactly once
        raise ValueError(f"{reader.index_file}: gallery: target {repeated[0]!r} occurs {counts[repeated[0]]} times "
                         "(each target must occur once)")
    query_images = [n for s in reader.queries for n in s.images]
    tokens = ImageTokens(encoder, gallery + query_images, reader.image_path, cache_dir, batch_size)
    device = model.query_tokens.device
    was_training = model.training
    model.eval()
    captions = [pre_caption(reader.gallery_caption(n)) for n in gallery]
    gallery_feats = torch.cat([
        model.target_features(tokens(gallery[i:i + batch_size], device), captions[i:i + batch_size]).cpu()
        for i in range(0, len(gallery), batch_size)])
    loader = DataLoader(SessionDataset(reader.queries, train=False), batch_size=batch_size, shuffle=False,
                        collate_fn=collate_sessions)
    query_feats = []
    for batch in loader:
        batch_tokens = {k: tokens(batch[k], device) for k in (*IMAGE_KEYS, "back")}
        query_feats.append(final_turn_query(model, batch_tokens, batch, regime, history).cpu())
    model.train(was_training)
    _, indices = topk_cosine(torch.cat(query_feats), gallery_feats, k=MAX_K)
    ranked = rank_names(indices, gallery)
    if predictions_dir is not None:
        final_text = "mod1" if regime == "single-turn" else "mod3"
        rows = [{"reference": s.ref, "text": getattr(s, final_text), "targets": [t], "ranked": r[:10]}
                for s, t, r in zip(reader.queries, targets, ranked)]
        used = {n for row in rows for n in (row["reference"], *row["targets"], *row["ranked"])}
        save_predictions(predictions_dir, PROTOCOL, rows, {n: reader.image_path(n) for n in used})
    return final_turn_recall(ranked, targets)
