"""The two trainable networks and their losses (torch only; no Django).

- ``BiEncoder``: the two-tower encoder with shared weights, pooled exactly as
  ``TransformerEncoder`` serves it (masked mean of the last hidden states, L2-normalised), so the
  saved model drops into ``LLMREC["ENCODER"]`` / a new embedding version as is. Trained with
  ``info_nce_loss``: each anchor (a user's recent history text) must pick its positive (the next
  item's text) among every positive of the batch and the mined hard negatives, and optionally
  every item of the catalogue (``CatalogueNegatives``: encoded without gradient, refreshed).
  With ``trainable="projection"`` only a linear map on the pooled vectors is trained, over
  cached outputs of the frozen transformer (``encoders.projection``). With the user tower
  "history" an anchor is the user's last liked items' vectors weighted by learnt position
  weights (``BiEncoder.history_anchors``), as the service then makes the user's vector.
- ``CrossEncoder``: "user text [SEP] item text" through a transformer with a one-logit
  classification head (``AutoModelForSequenceClassification``, num_labels=1), trained with binary
  cross-entropy (``bce_loss``) on clicks/purchases vs ignored or sampled items.

Each forward pass is one call of the module on one tokenised batch (anchors, positives and
negatives concatenated), as ``DistributedDataParallel`` expects.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmrec_django.core.ranking import roc_auc
from llmrec_django.ml.encoders.projection import PROJECTION_FILE, TRAINABLE, read_projection, write_projection
from llmrec_django.ml.encoders.user_tower import HistoryAnchor, read_user_tower


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
    """A transformer with masked-mean pooling, an optional linear projection and L2
    normalisation (the serving recipe, ``TransformerEncoder``).

    ``trainable="all"`` fine-tunes every weight (a projection saved with the base model is kept
    and trained too). ``trainable="projection"`` freezes the transformer and trains only a square
    map on the pooled vectors (``encoders.projection``: identity plus a learnt residual, so weight
    decay pulls it towards the base model): each distinct text is encoded once, without gradient,
    and its pooled vector cached (``cache``, or lazily by ``tokenize``), so an epoch costs
    seconds on a CPU where a full one costs most of an hour. In that mode ``tokenize`` returns the
    texts' rows in the cache instead of token ids, and ``forward`` takes those rows.
    """

    def __init__(
        self,
        path: str | Path,
        max_length: int = 128,
        trainable: str = "all",
        *,
        history_items: int = 0,
        text_weight: float = 1.0,
    ):
        super().__init__()
        from transformers import AutoModel

        if trainable not in TRAINABLE:
            raise ValueError(f"trainable must be one of {', '.join(TRAINABLE)}, not {trainable!r}.")
        self.trainable = trainable
        self.base_path = str(path)
        self.tokenizer = _tokenizer(path)
        self.transformer = AutoModel.from_pretrained(str(path), local_files_only=True)
        # Mean pooling never uses BERT's pooler: frozen, it gets no gradient, which is what
        # DistributedDataParallel requires of every trainable parameter.
        for name, parameter in self.transformer.named_parameters():
            if name.startswith("pooler.") or trainable == "projection":
                parameter.requires_grad_(False)
        self.max_length = effective_max_length(self.tokenizer, self.transformer.config, max_length)
        saved = read_projection(path)
        self.projection: nn.Linear | None = None
        if saved is not None or trainable == "projection":
            dimension = int(self.transformer.config.hidden_size)
            if saved is not None and saved[0].shape[0] != dimension:
                raise ValueError(f"The projection saved in {path} does not fit the model's {dimension} dimensions.")
            self.projection = nn.Linear(dimension, dimension)
            with torch.no_grad():  # the residual: weight = identity + projection.weight
                self.projection.weight.copy_(
                    saved[0] - torch.eye(dimension) if saved else torch.zeros(dimension, dimension)
                )
                self.projection.bias.copy_(saved[1] if saved else torch.zeros(dimension))
        # The user tower "history" (``history_items`` > 0): an anchor is the user's last liked
        # items' vectors weighted by position (these logits, softmax), plus ``text_weight`` x the
        # vector of the user's stated text, as ``embedding.compute_user_vectors`` serves it.
        self.history_items = int(history_items)
        self.text_weight = float(text_weight)
        self.position_logits: nn.Parameter | None = None
        if self.history_items > 0:
            tower = read_user_tower(path)
            start = torch.zeros(self.history_items)
            if tower is not None and len(tower.position_weights) == self.history_items:
                start = torch.tensor(tower.position_weights).clamp(min=1e-6).log()  # continue from the saved ones
            self.position_logits = nn.Parameter(start)
        self._rows: dict[str, int] = {}
        self._pooled: list[torch.Tensor] = []  # cached pooled vectors (projection mode), in chunks
        self._pooled_matrix: torch.Tensor | None = None
        self._cache_key: str | None = None

    # -- projection mode: the frozen transformer's pooled vectors, cached --------------------

    @torch.no_grad()
    def cache(self, texts: list[str], batch_size: int = 128) -> int:
        """Encode the texts not cached yet (longest first, no gradient); returns how many."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if not missing:
            return 0
        missing.sort(key=len, reverse=True)
        was_training = self.transformer.training
        self.transformer.eval()
        device = next(self.transformer.parameters()).device
        try:
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                inputs = self._token_ids(chunk)
                with torch.autocast(device_type=device.type, enabled=False):
                    pooled = self._pool(**{k: v.to(device) for k, v in inputs.items()})
                self._pooled.append(pooled.cpu())
                for text in chunk:
                    self._rows[text] = len(self._rows)
        finally:
            self.transformer.train(was_training)
        self._pooled_matrix = None
        return len(missing)

    def cache_key(self) -> str:
        """Names the cached vectors' meaning: the base weights and tokenizer files (their bytes)
        and the token limit. A fine-tuned projection-only model keeps its base's key."""
        if self._cache_key is not None:
            return self._cache_key
        digest = hashlib.sha256(f"max_length={self.max_length}".encode())
        for name in sorted(os.listdir(self.base_path)):
            if name.endswith((".safetensors", ".bin", "vocab.txt", "tokenizer.json")) and name != PROJECTION_FILE:
                digest.update(name.encode())
                with open(os.path.join(self.base_path, name), "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(block)
        self._cache_key = digest.hexdigest()[:24]
        return self._cache_key

    def load_cache(self, file: str | Path) -> int:
        """Adopt the pooled vectors saved by ``save_cache`` (same ``cache_key``); returns how many."""
        saved = torch.load(file, map_location="cpu", weights_only=True)
        texts, vectors = saved["texts"], saved["vectors"]
        if len(texts) != vectors.shape[0] or saved.get("key") != self.cache_key():
            raise ValueError(f"{file} does not hold this model's cached vectors.")
        new = [row for row, text in enumerate(texts) if text not in self._rows]
        if new:
            self._pooled.append(vectors[new].float())
            for row in new:
                self._rows[texts[row]] = len(self._rows)
            self._pooled_matrix = None
        return len(new)

    def save_cache(self, file: str | Path, texts: list[str]) -> None:
        """The pooled vectors of ``texts`` (all cached) to ``file``, written beside then renamed."""
        texts = list(dict.fromkeys(texts))
        rows = torch.tensor([self._rows[t] for t in texts], dtype=torch.long)
        file = Path(file)
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(file.name + ".partial")
        vectors = self._cached(rows).cpu() if texts else torch.zeros(0, 0)
        torch.save({"key": self.cache_key(), "texts": texts, "vectors": vectors}, partial)
        os.replace(partial, file)

    @staticmethod
    def forget_cached_texts(file: str | Path, forget: Callable[[str], bool]) -> int:
        """Rewrite a file of ``save_cache`` without the texts for which ``forget`` is true (a
        user's words, on erasure); returns how many went."""
        saved = torch.load(file, map_location="cpu", weights_only=True)
        texts = saved["texts"]
        keep = [row for row, text in enumerate(texts) if not forget(text)]
        if len(keep) == len(texts):
            return 0
        file = Path(file)
        partial = file.with_name(file.name + ".partial")
        vectors = saved["vectors"][torch.tensor(keep, dtype=torch.long)] if keep else torch.zeros(0, 0)
        torch.save({"key": saved.get("key"), "texts": [texts[row] for row in keep], "vectors": vectors}, partial)
        os.replace(partial, file)
        return len(texts) - len(keep)

    def _cached(self, rows: torch.Tensor) -> torch.Tensor:
        if self._pooled_matrix is None:
            self._pooled_matrix = torch.cat(self._pooled)
            self._pooled = [self._pooled_matrix]
        device = self.projection.weight.device
        if self._pooled_matrix.device != device:
            self._pooled_matrix = self._pooled_matrix.to(device)
            self._pooled = [self._pooled_matrix]
        return self._pooled_matrix[rows.to(device)]

    # -- both modes -------------------------------------------------------------------------

    def _token_ids(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        if self.trainable == "projection":
            self.cache(texts)
            return {"rows": torch.tensor([self._rows[t] for t in texts], dtype=torch.long)}
        return self._token_ids(texts)

    def _pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **rest: Any) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **rest)[0]
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        return (hidden.to(torch.float32) * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def forward(
        self,
        rows: torch.Tensor | None = None,
        history: torch.Tensor | None = None,
        user_text: torch.Tensor | None = None,
        candidates: torch.Tensor | None = None,
        **inputs: torch.Tensor,
    ) -> torch.Tensor:
        """The texts' unit vectors; with ``history`` (a batch of ``HistoryAnchor`` s, see
        ``collate_pairs``) the anchors' vectors, then those of the ``candidates`` rows."""
        mean = self._cached(rows) if rows is not None else self._pool(**inputs)
        if self.projection is not None:
            mean = mean + self.projection(mean)
        vectors = F.normalize(mean.float(), p=2, dim=1)
        if history is None:
            return vectors
        return torch.cat([self.history_anchors(vectors, history, user_text), vectors[candidates]])

    def history_anchors(self, vectors: torch.Tensor, history: torch.Tensor, user_text: torch.Tensor) -> torch.Tensor:
        """Each user's vector: ``history`` (n, k) holds rows of ``vectors`` (their last liked
        items, newest last, -1 where a user has fewer), weighted by position and normalised over
        the present ones; plus ``text_weight`` x the ``user_text`` row (-1: none); unit length."""
        if self.position_logits is None:
            raise ValueError("This encoder has no history user tower (history_items=0).")
        present = history >= 0
        logits = self.position_logits[-history.shape[1] :].expand(history.shape)
        weights = torch.softmax(logits.masked_fill(~present, -1e4), dim=1) * present
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-12)
        total = (weights.unsqueeze(-1) * vectors[history.clamp(min=0)]).sum(dim=1)
        has_text = (user_text >= 0).unsqueeze(-1)
        text = torch.where(has_text, vectors[user_text.clamp(min=0)], torch.zeros((), device=vectors.device))
        return F.normalize(total + self.text_weight * text, p=2, dim=1)

    def position_weights(self) -> tuple[float, ...]:
        """The learnt weight of each of the last ``history_items`` liked items, oldest first."""
        if self.position_logits is None:
            return ()
        return tuple(torch.softmax(self.position_logits.detach().float().cpu(), dim=0).tolist())

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        if self.projection is not None:
            weight = self.projection.weight.detach().float().cpu() + torch.eye(self.projection.in_features)
            write_projection(directory, weight, self.projection.bias)
        return directory


def collate_pairs(model: BiEncoder, examples: list[tuple]) -> dict[str, Any]:
    """(anchor, positive, hard negatives[, masked catalogue columns]) -> one tokenised batch of
    anchors + positives + negatives, and the (row, column) pairs of ``CatalogueNegatives`` that
    must not count as negatives for that anchor (its positive and the user's other items).

    Anchors that are ``HistoryAnchor`` s (the user tower "history") are a user's item texts: the
    batch then holds each distinct text once, and ``history`` / ``user_text`` / ``candidates``
    say which rows make each anchor and each candidate (``BiEncoder.forward``)."""
    anchors = [e[0] for e in examples]
    positives = [e[1] for e in examples]
    negatives = [n for e in examples for n in (e[2] if len(e) > 2 else ())]
    rows = [row for row, e in enumerate(examples) for _ in (e[3] if len(e) > 3 else ())]
    columns = [column for e in examples for column in (e[3] if len(e) > 3 else ())]
    if anchors and isinstance(anchors[0], HistoryAnchor):
        inputs = _history_inputs(model, anchors, positives + negatives)
    else:
        inputs = model.tokenize(anchors + positives + negatives)
    return {
        "inputs": inputs,
        "n": torch.tensor(len(examples)),
        "masked": torch.tensor([rows, columns], dtype=torch.long).reshape(2, -1),
    }


def _history_inputs(model: BiEncoder, anchors: list[HistoryAnchor], candidates: list[str]) -> dict[str, torch.Tensor]:
    k = model.history_items
    if k < 1:
        raise ValueError("History anchors need an encoder with a history user tower (history_items > 0).")
    texts = list(dict.fromkeys([t for a in anchors for t in a.texts()] + candidates))
    row = {text: j for j, text in enumerate(texts)}
    history = torch.full((len(anchors), k), -1, dtype=torch.long)
    for r, anchor in enumerate(anchors):
        recent = [row[t] for t in anchor.items[-k:]]
        if recent:  # newest last, as the position weights are
            history[r, k - len(recent) :] = torch.tensor(recent)
    return {
        **model.tokenize(texts),
        "history": history,
        "user_text": torch.tensor([row[a.text] if a.text else -1 for a in anchors], dtype=torch.long),
        "candidates": torch.tensor([row[t] for t in candidates], dtype=torch.long),
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
    A projection-only model (``BiEncoder(trainable="projection")``) maps its cached vectors on
    every call instead, with gradient: a full, exact softmax over the catalogue.
    """

    def __init__(self, texts: list[str], refresh_every: int = 100, batch_size: int = 256):
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be a positive integer, not {refresh_every!r}.")
        self.texts = list(texts)
        self.refresh_every = int(refresh_every)
        self.batch_size = int(batch_size)
        self.vectors: torch.Tensor | None = None
        self.rows: torch.Tensor | None = None  # projection mode: the texts' rows in the model's cache
        self.calls = 0
        self.refreshes = 0

    def __len__(self) -> int:
        return len(self.texts)

    def vectors_for(self, model) -> torch.Tensor:
        module = getattr(model, "module", model)
        if getattr(module, "trainable", "all") == "projection":
            # The frozen transformer's outputs are cached: the whole catalogue through the map is
            # one matrix product, so its vectors are exact and carry gradient, never stale.
            if self.rows is None:
                self.rows = module.tokenize(self.texts)["rows"]
            self.calls += 1
            return module(rows=self.rows)
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
