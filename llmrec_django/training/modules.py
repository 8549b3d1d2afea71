"""The two trainable networks and their losses (torch only; no Django).

- ``BiEncoder``: the two-tower encoder with shared weights, pooled exactly as
  ``TransformerEncoder`` serves it (masked mean of the last hidden states, L2-normalised), so the
  saved model drops into ``LLMREC["ENCODER"]`` / a new embedding version as is. Trained with
  ``info_nce_loss``: each anchor (a user's recent history text) must pick its positive (the next
  item's text) among every positive of the batch and the mined hard negatives, and optionally
  every item of the catalogue (``CatalogueNegatives``: encoded without gradient, refreshed).
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


def collate_pairs(model: BiEncoder, examples: list[tuple]) -> dict[str, Any]:
    """(anchor, positive, hard negatives[, masked catalogue columns]) -> one tokenised batch of
    anchors + positives + negatives, and the (row, column) pairs of ``CatalogueNegatives`` that
    must not count as negatives for that anchor (its positive and the user's other items)."""
    anchors = [e[0] for e in examples]
    positives = [e[1] for e in examples]
    negatives = [n for e in examples for n in (e[2] if len(e) > 2 else ())]
    rows = [row for row, e in enumerate(examples) for _ in (e[3] if len(e) > 3 else ())]
    columns = [column for e in examples for column in (e[3] if len(e) > 3 else ())]
    return {
        "inputs": model.tokenize(anchors + positives + negatives),
        "n": torch.tensor(len(examples)),
        "masked": torch.tensor([rows, columns], dtype=torch.long).reshape(2, -1),
    }


class CatalogueNegatives:
    """The catalogue's items as negatives for every anchor, beside the batch's own candidates.

    In-batch negatives are the other users' next items (popular ones, mostly) and the mined hard
    negatives a handful per anchor; the service ranks the whole catalogue. Here every item of
    ``texts`` (the catalogue, or a seeded sample of it) is encoded without gradient and kept, so
    each anchor must also beat all of them: the loss is a softmax over the catalogue, as the
    ranking is. The vectors are re-encoded with the current weights every ``refresh_every`` loss
    calls (micro-batches); in between they are a little stale, which costs far less than
    encoding them with gradients would. Gradients reach the shared weights through the anchor.
    """

    def __init__(self, texts: list[str], refresh_every: int = 100, batch_size: int = 256):
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be a positive integer, not {refresh_every!r}.")
        self.texts = list(texts)
        self.refresh_every = int(refresh_every)
        self.batch_size = int(batch_size)
        self.vectors: torch.Tensor | None = None
        self.calls = 0
        self.refreshes = 0

    def __len__(self) -> int:
        return len(self.texts)

    def vectors_for(self, model) -> torch.Tensor:
        if self.vectors is None or self.calls % self.refresh_every == 0:
            self.refresh(model)
        self.calls += 1
        return self.vectors

    @torch.no_grad()
    def refresh(self, model) -> None:
        module = getattr(model, "module", model)  # DistributedDataParallel wraps the BiEncoder
        device = next(module.parameters()).device
        was_training = module.training
        module.eval()  # as served: no dropout
        try:
            parts = []
            for start in range(0, len(self.texts), self.batch_size):
                inputs = module.tokenize(self.texts[start : start + self.batch_size])
                parts.append(module(**{k: v.to(device) for k, v in inputs.items()}).float())
            self.vectors = torch.cat(parts) if parts else torch.zeros(0, 1, device=device)
        finally:
            module.train(was_training)
        self.refreshes += 1


def info_nce_loss(
    model, batch: dict[str, Any], temperature: float = 0.05, catalogue: CatalogueNegatives | None = None
) -> torch.Tensor:
    """Cross-entropy of each anchor over [all positives of the batch, all hard negatives, and
    with ``catalogue`` every catalogue item but the anchor's masked ones]."""
    vectors = model(**batch["inputs"])
    n = int(batch["n"])
    anchors, candidates = vectors[:n], vectors[n:]
    logits = anchors @ candidates.T
    if catalogue is not None and len(catalogue):
        items = catalogue.vectors_for(model)
        with torch.autocast(device_type=anchors.device.type, enabled=False):  # fp32 logits over the catalogue
            extra = anchors.float() @ items.T
        masked = batch.get("masked")
        if masked is not None and masked.numel():
            extra = extra.index_put((masked[0], masked[1]), torch.tensor(float("-inf"), device=extra.device))
        logits = torch.cat([logits.float(), extra], dim=1)
    return F.cross_entropy(logits.float() / temperature, torch.arange(n, device=logits.device))


@torch.no_grad()
def info_nce_validation(
    model: BiEncoder,
    examples: list[tuple],
    batch_size: int,
    temperature: float,
    catalogue: CatalogueNegatives | None = None,
    k: int = 10,
) -> dict[str, float]:
    """Validation InfoNCE loss (in-batch negatives) and top-1 accuracy of the anchor -> positive
    match; with ``catalogue`` and examples ``(anchor, positive, user's columns, positive's
    column)``, also the positive's ``recall@k`` and ``ndcg@k`` when each anchor ranks the whole
    catalogue (freshly encoded), its user's own items left out: the fine-tuned model alone as a
    next-item recommender."""
    device = next(model.parameters()).device
    losses, hits, total = [], 0, 0
    ranked = catalogue is not None and len(catalogue) > 0 and any(len(e) > 3 for e in examples)
    if ranked:
        catalogue.refresh(model)
    found, gains, ranked_total = 0, 0.0, 0
    for start in range(0, len(examples), batch_size):
        rows = examples[start : start + batch_size]
        # The user's own columns ride along as the batch's masked pairs (``collate_pairs``).
        chunk = [(e[0], e[1], [], e[2] if len(e) > 3 else ()) for e in rows]
        batch = collate_pairs(model, chunk)
        inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
        vectors = model(**inputs)
        n = len(chunk)
        if ranked:
            targets = torch.tensor([int(e[3]) if len(e) > 3 else -1 for e in rows], device=device)
            with torch.autocast(device_type=device.type, enabled=False):  # fp32: bf16 would tie ranks
                scores = vectors[:n].float() @ catalogue.vectors.T
            masked = batch["masked"].to(device)
            scores = scores.index_put((masked[0], masked[1]), torch.tensor(float("-inf"), device=device))
            has = targets >= 0
            ranks = (scores[has] > scores[has, targets[has]][:, None]).sum(dim=1)
            ranked_total += int(has.sum())
            found += int((ranks < k).sum())
            gains += float((1.0 / torch.log2(ranks[ranks < k].double() + 2)).sum())
        if n < 2:
            continue  # one pair has no negative: its loss is always 0
        logits = vectors[:n] @ vectors[n:].T / temperature
        target = torch.arange(n, device=device)
        losses.append(float(F.cross_entropy(logits.float(), target)) * n)
        hits += int((logits.argmax(dim=1) == target).sum())
        total += n
    out = (
        {"valid_loss": sum(losses) / total, "valid_accuracy": hits / total}
        if total
        else {"valid_loss": float("nan"), "valid_accuracy": float("nan")}
    )
    if ranked_total:
        out[f"valid_recall@{k}"] = found / ranked_total
        out[f"valid_ndcg@{k}"] = gains / ranked_total
    return out


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
