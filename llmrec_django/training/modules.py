"""The two trainable networks and their losses (torch only; no Django).

- ``BiEncoder``: the two-tower encoder with shared weights, pooled exactly as
  ``TransformerEncoder`` serves it (masked mean of the last hidden states, L2-normalised), so the
  saved model drops into ``LLMREC["ENCODER"]`` / a new embedding version as is. Trained with
  ``info_nce_loss``: each anchor (a user's recent history text) must pick its positive (the next
  item's text) among every positive of the batch and the mined hard negatives.
- ``CrossEncoder``: "user text [SEP] item text" through a transformer with a one-logit
  classification head (``AutoModelForSequenceClassification``, num_labels=1), trained with binary
  cross-entropy (``bce_loss``) on clicks/purchases vs ignored or sampled items.

Each forward pass is one call of the module on one tokenised batch (anchors, positives and
negatives concatenated), as ``DistributedDataParallel`` expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_django.core.ranking import roc_auc


def _tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def effective_max_length(tokenizer, config, max_length: int) -> int:
    limits = [max_length]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    if getattr(config, "max_position_embeddings", None):
        limits.append(int(config.max_position_embeddings))
    return min(limits)


class BiEncoder(nn.Module):
    """A transformer with masked-mean pooling and L2 normalisation (the serving recipe)."""

    def __init__(self, path: str | Path, max_length: int = 128):
        super().__init__()
        from transformers import AutoModel

        self.tokenizer = _tokenizer(path)
        self.transformer = AutoModel.from_pretrained(str(path), local_files_only=True)
        # Mean pooling never uses BERT's pooler: frozen, it gets no gradient, which is what
        # DistributedDataParallel requires of every trainable parameter.
        for name, parameter in self.transformer.named_parameters():
            if name.startswith("pooler."):
                parameter.requires_grad_(False)
        self.max_length = effective_max_length(self.tokenizer, self.transformer.config, max_length)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **rest: Any) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **rest)[0]
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        mean = (hidden.to(torch.float32) * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(mean, p=2, dim=1)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        return directory


def collate_pairs(model: BiEncoder, examples: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    """(anchor, positive, hard negatives) -> one tokenised batch of anchors + positives + negatives."""
    anchors = [e[0] for e in examples]
    positives = [e[1] for e in examples]
    negatives = [n for e in examples for n in (e[2] if len(e) > 2 else ())]
    return {"inputs": model.tokenize(anchors + positives + negatives), "n": torch.tensor(len(examples))}


def info_nce_loss(model, batch: dict[str, Any], temperature: float = 0.05) -> torch.Tensor:
    """Cross-entropy of each anchor over [all positives of the batch, all hard negatives]."""
    vectors = model(**batch["inputs"])
    n = int(batch["n"])
    anchors, candidates = vectors[:n], vectors[n:]
    logits = anchors @ candidates.T / temperature
    return F.cross_entropy(logits.float(), torch.arange(n, device=logits.device))


@torch.no_grad()
def info_nce_validation(
    model: BiEncoder, examples: list[tuple[str, str]], batch_size: int, temperature: float
) -> dict[str, float]:
    """Validation InfoNCE loss (in-batch negatives) and top-1 accuracy of the anchor -> positive match."""
    device = next(model.parameters()).device
    losses, hits, total = [], 0, 0
    for start in range(0, len(examples), batch_size):
        chunk = [(e[0], e[1], []) for e in examples[start : start + batch_size]]
        if len(chunk) < 2:
            continue  # one pair has no negative: its loss is always 0
        batch = collate_pairs(model, chunk)
        inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
        vectors = model(**inputs)
        n = len(chunk)
        logits = vectors[:n] @ vectors[n:].T / temperature
        target = torch.arange(n, device=device)
        losses.append(float(F.cross_entropy(logits.float(), target)) * n)
        hits += int((logits.argmax(dim=1) == target).sum())
        total += n
    if not total:
        return {"valid_loss": float("nan"), "valid_accuracy": float("nan")}
    return {"valid_loss": sum(losses) / total, "valid_accuracy": hits / total}


class CrossEncoder(nn.Module):
    """A transformer reading "user text [SEP] item text" with a one-logit head."""

    def __init__(self, path: str | Path, max_length: int = 128):
        super().__init__()
        import logging

        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        self.tokenizer = _tokenizer(path)
        # A sentence encoder has no classification head yet: transformers says so loudly; the
        # head is what this training creates.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity(logging.ERROR)
        try:
            self.transformer = AutoModelForSequenceClassification.from_pretrained(
                str(path), num_labels=1, local_files_only=True
            )
        finally:
            hf_logging.set_verbosity(verbosity)
        self.max_length = effective_max_length(self.tokenizer, self.transformer.config, max_length)

    def tokenize(self, users: list[str], items: list[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(
                users,
                items,
                padding=True,
                truncation="longest_first",
                max_length=self.max_length,
                return_tensors="pt",
            )
        )

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        return self.transformer(**inputs).logits.squeeze(-1).float()

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        return directory


def collate_labelled(model: CrossEncoder, examples: list[tuple[str, str, float]]) -> dict[str, Any]:
    inputs = model.tokenize([e[0] for e in examples], [e[1] for e in examples])
    return {"inputs": inputs, "labels": torch.tensor([float(e[2]) for e in examples])}


def bce_loss(model, batch: dict[str, Any]) -> torch.Tensor:
    logits = model(**batch["inputs"])
    return F.binary_cross_entropy_with_logits(logits, batch["labels"].to(logits.dtype))


@torch.no_grad()
def bce_validation(model: CrossEncoder, examples: list[tuple[str, str, float]], batch_size: int) -> dict[str, float]:
    """Validation BCE loss and ROC AUC of the click probability."""
    device = next(model.parameters()).device
    logits, labels = [], []
    for start in range(0, len(examples), batch_size):
        batch = collate_labelled(model, examples[start : start + batch_size])
        logits.append(model(**{k: v.to(device) for k, v in batch["inputs"].items()}).float().cpu())
        labels.append(batch["labels"])
    if not logits:
        return {"valid_loss": float("nan"), "valid_auc": float("nan")}
    scores, truth = torch.cat(logits), torch.cat(labels)
    loss = float(F.binary_cross_entropy_with_logits(scores, truth))
    auc = roc_auc(truth.numpy(), scores.numpy())
    return {"valid_loss": loss, "valid_auc": float("nan") if auc is None else auc}
