"""BERTScore (Zhang et al., 2020) with a model the user has on this machine; never a download.

The score of a candidate against a reference: contextual token embeddings of both from one
layer of a BERT-style encoder (special tokens left out), cosine similarity of every pair,
recall = mean over reference tokens of the best match in the candidate, precision = mean over
candidate tokens of the best match in the reference, F1 their harmonic mean. No idf weighting
and no baseline rescaling (the ``bert-score`` package's defaults); that package itself is not
used because it fails with transformers 5.

Turn it on with the task metadata: ``--metadata '{"bertscore_model": "/models/roberta-large"}'``
(a local folder), optionally ``"bertscore_layer": 17``; without a layer, the layer of the
BERTScore paper for the models it names (:data:`PAPER_LAYERS`), else the last layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)

# layers the bert-score package uses for these models (its model2layers table)
PAPER_LAYERS = {
    "roberta-large": 17,
    "roberta-base": 10,
    "bert-base-uncased": 9,
    "distilbert-base-uncased": 5,
    "deberta-xlarge-mnli": 40,
    "scibert_scivocab_uncased": 8,
}
MAX_TOKENS = 510
NOT_CONFIGURED = (
    "medpair: BERTScore is not computed for {task}: it needs a BERTScore model on this machine and "
    "medpair never downloads one. To add the metric bertscore_f1, pass a local copy, e.g. "
    "--metadata '{{\"bertscore_model\": \"/models/roberta-large\", \"bertscore_layer\": 17}}'."
)


@dataclass(frozen=True)
class BertScoreConfig:
    """A local BERTScore model folder and the layer whose embeddings are compared."""

    model: str
    layer: int | None
    max_length: int = MAX_TOKENS  # tokens per text, special tokens included
    # True: as bert_score's greedy matching, a token's best match may be the other text's [CLS] or
    # [SEP] (which carry no weight themselves); False: special tokens are left out on both sides
    match_specials: bool = False


def bertscore_config(metadata: Mapping[str, Any]) -> BertScoreConfig | None:
    """The BERTScore settings of a task's metadata; None when not asked for.

    Raises ValueError when ``bertscore_model`` is given but is not a folder on this machine.
    """
    model = metadata.get("bertscore_model")
    if not model:
        return None
    path = Path(str(model)).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"medpair: bertscore_model {model!r} is not a folder on this machine; BERTScore needs a local "
            "copy of its model (medpair never downloads one)"
        )
    layer = metadata.get("bertscore_layer")
    if layer is None:
        layer = PAPER_LAYERS.get(path.name)
    return BertScoreConfig(str(path.resolve()), None if layer is None else int(layer))


class BertScorer:
    """Scores candidate/reference pairs with one local encoder."""

    def __init__(self, config: BertScoreConfig) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.config = config
        self.tokenizer = AutoTokenizer.from_pretrained(config.model, local_files_only=True)
        self.model = AutoModel.from_pretrained(config.model, local_files_only=True).eval()

    def _embed(self, text: str) -> tuple[Any, Any]:
        """Unit vectors of every token of ``text`` at the configured layer, and which are special."""
        import torch

        enc = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=self.config.max_length,
                             return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask")[0].bool()
        with torch.no_grad():
            out = self.model(**enc, output_hidden_states=True)
        layer = -1 if self.config.layer is None else self.config.layer
        return torch.nn.functional.normalize(out.hidden_states[layer][0], dim=-1), special

    def score(self, candidate: str, reference: str) -> tuple[float, float, float]:
        """(precision, recall, F1) of one candidate against one reference; zeros for empty text."""
        if not candidate.strip() or not reference.strip():
            return 0.0, 0.0, 0.0
        (cand, cand_special), (ref, ref_special) = self._embed(candidate), self._embed(reference)
        if cand_special.all() or ref_special.all():
            return 0.0, 0.0, 0.0
        if not self.config.match_specials:
            cand, ref = cand[~cand_special], ref[~ref_special]
            cand_special, ref_special = cand_special[~cand_special], ref_special[~ref_special]
        sim = cand @ ref.T
        precision = float(sim[~cand_special].max(dim=1).values.mean())
        recall = float(sim[:, ~ref_special].max(dim=0).values.mean())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return precision, recall, f1


@lru_cache(maxsize=2)
def scorer(config: BertScoreConfig) -> BertScorer:
    """One loaded scorer per configuration and process."""
    return BertScorer(config)
