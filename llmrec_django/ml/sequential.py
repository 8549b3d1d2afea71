"""A sequential user model over text item vectors: what a user does next, from the order of what
they did (in the spirit of UniSRec and RecFormer).

Usage::

    from llmrec_django.ml.sequential import SequentialConfig, Sequences, fit_sequential

    data = Sequences(items=[np.array([3, 7, 2]), ...], times=[np.array([t0, t1, t2]), ...])
    fitted = fit_sequential(data, text_vectors, SequentialConfig(), seed=0, budget_seconds=300)
    fitted.report                          # epochs, validation NDCG@10 per epoch, the best, seconds
    arrays = fitted.to_arrays()            # plain numpy arrays, saved with the collaborative model
    scorer = SequentialScorer.from_arrays(arrays)
    vector = scorer.user_vector([3, 7], [t0, t1])  # item rows (1-based), oldest first, Unix seconds
    scores = scorer.table @ vector         # one score per item row (row 0 is padding)

The model (no Django here; the rows are 1..N, 0 pads):

- **Items**: each item's frozen text vector goes through a mixture-of-experts adaptor (parametric
  whitening, as UniSRec: expert k computes ``(x - b_k) W_k``, a softmax gate on x mixes them), so
  an item known only by its text (new, never interacted with) gets a representation; items seen
  in training add a learnt embedding of their own (``item_ids``), zero at the start so that text
  leads until the behaviour says otherwise. ``text=False`` leaves IDs alone: that is SASRec.
- **Users**: the last ``max_length`` items, each with its position (counted from the latest) and
  the time since the item before it (log-spaced buckets, ``time_gaps``), through a small causal
  transformer; the output at the latest position is the user's vector, in the items' space, and
  an item's score is the dot product.
- **Training**: next-item prediction at every position of each window of a user's sequence, with
  a softmax cross-entropy over the whole catalogue (up to ``full_softmax_items``) or over the
  batch's own targets plus ``sampled_negatives`` uniformly drawn items beyond that; Adam; each
  user's latest item held out for validation (NDCG@10, full ranking, the user's items masked);
  the best epoch is kept; training stops after ``patience`` epochs without gain or at the budget.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from llmrec_django.ml.sequential_config import SequentialConfig

PREFIX = "sequential__"  # the keys of a fitted model's arrays, beside other models' in one file


@dataclass
class Sequences:
    """Users' positive items in time order: ``items[u]`` rows (1..N), ``times[u]`` Unix seconds."""

    items: list[np.ndarray]
    times: list[np.ndarray]

    def __post_init__(self) -> None:
        if len(self.items) != len(self.times):
            raise ValueError("Sequences need one array of times per array of items.")


def gap_bucket(gaps_seconds: np.ndarray, buckets: int) -> np.ndarray:
    """The bucket of each gap between consecutive events: 1 + floor(log2(1 + minutes)), capped;
    0 is kept for padding and the first item of a window (no gap known)."""
    minutes = np.clip(np.asarray(gaps_seconds, dtype=np.float64), 0, None) / 60.0
    return np.minimum(1 + np.floor(np.log2(1.0 + minutes)).astype(np.int64), buckets - 1)


def window_arrays(items: np.ndarray, times: np.ndarray, length: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """One user's last ``length`` items and their gap buckets, left-padded with 0 to ``length``."""
    items = np.asarray(items, dtype=np.int64)[-length:]
    times = np.asarray(times, dtype=np.float64)[-len(items) :] if len(items) else np.zeros(0)
    gaps = np.zeros(len(items), dtype=np.int64)
    if len(items) > 1:
        gaps[1:] = gap_bucket(np.diff(times), buckets)
    padded = np.zeros(length, dtype=np.int64)
    padded_gaps = np.zeros(length, dtype=np.int64)
    if len(items):
        padded[-len(items) :] = items
        padded_gaps[-len(items) :] = gaps
    return padded, padded_gaps


class ItemAdaptor(nn.Module):
    """A mixture of parametric-whitening experts from text vectors to the model's space."""

    def __init__(self, text_dimension: int, dimension: int, experts: int, dropout: float):
        super().__init__()
        self.centres = nn.Parameter(torch.zeros(experts, text_dimension))
        self.projections = nn.Parameter(torch.randn(experts, text_dimension, dimension) / math.sqrt(text_dimension))
        self.gate = nn.Linear(text_dimension, experts, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        gates = torch.softmax(self.gate(text), dim=-1)  # (n, experts)
        text = self.dropout(text)
        experts = torch.einsum("nt,etd->ned", text, self.projections) - torch.einsum(
            "et,etd->ed", self.centres, self.projections
        )
        return (gates.unsqueeze(-1) * experts).sum(dim=1)


class UserEncoder(nn.Module):
    """The user side: the last items' representations, positions and time gaps, through a causal
    transformer; the output at the latest position is the user's vector."""

    def __init__(self, config: SequentialConfig):
        super().__init__()
        self.config = config
        d = config.dimension
        self.positions = nn.Embedding(config.max_length, d)
        self.gaps = nn.Embedding(config.gap_buckets, d) if config.time_gaps else None
        layer = nn.TransformerEncoderLayer(
            d, config.heads, dim_feedforward=d * 2, dropout=config.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.input_norm = nn.LayerNorm(d)
        self.output_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        causal = torch.triu(torch.ones(config.max_length, config.max_length, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)
        # Positions and gaps start as small as the items' id embeddings: at the default N(0, 1)
        # they would drown an item signal of that size and the model would learn order slowly.
        for table in (self.positions, self.gaps):
            if table is not None:
                nn.init.normal_(table.weight, std=0.02)

    def forward(self, inputs: torch.Tensor, gaps: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(batch, length) left-padded rows and gap buckets -> (batch, length, d) outputs."""
        length = inputs.shape[1]
        hidden = table[inputs] * math.sqrt(self.config.dimension)
        hidden = hidden + self.positions(torch.arange(length, device=inputs.device)).unsqueeze(0)
        if self.gaps is not None:
            hidden = hidden + self.gaps(gaps)
        hidden = self.dropout(self.input_norm(hidden))
        # Causal, and no position attends to padding, except that every position sees itself: a
        # padding position with nothing to attend to would give NaN, and NaN spreads through the
        # next layer's attention even where its weight is 0.
        blocked = self.causal[:length, :length].unsqueeze(0) | (inputs == 0).unsqueeze(1)
        blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=inputs.device)
        mask = blocked.repeat_interleave(self.config.heads, dim=0)
        hidden = self.encoder(hidden, mask=mask)
        return self.output_norm(hidden)


class SequentialModel(nn.Module):
    """The items' side (adaptor and id embeddings) and the user encoder, trained together."""

    def __init__(self, config: SequentialConfig, n_items: int, text_dimension: int, known: np.ndarray | None = None):
        """``n_items`` rows (1..N; row 0 pads); ``known``: a bool per row 0..N, True for the items
        that get an id embedding (seen in training)."""
        super().__init__()
        self.config = config
        self.n_items = n_items
        d = config.dimension
        self.adaptor = ItemAdaptor(text_dimension, d, config.experts, config.dropout) if config.text else None
        if config.item_ids:
            self.ids = nn.Embedding(n_items + 1, d, padding_idx=0)
            with torch.no_grad():
                if config.text:
                    self.ids.weight.zero_()
                else:
                    nn.init.normal_(self.ids.weight, std=0.02)
                    self.ids.weight[0].zero_()
            mask = torch.ones(n_items + 1) if known is None else torch.as_tensor(known, dtype=torch.float32)
            mask[0] = 0
            self.register_buffer("id_mask", mask.unsqueeze(1), persistent=False)
        else:
            self.ids = None
        self.user = UserEncoder(config)

    def item_table(self, text: torch.Tensor | None, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Item representations for ``rows`` (all rows 0..N when None); ``text`` holds the text
        vectors of the same rows. Row 0 (padding) is zero."""
        parts = []
        if self.adaptor is not None and text is not None:
            parts.append(self.adaptor(text))
        if self.ids is not None:
            index = torch.arange(self.n_items + 1, device=self.id_mask.device) if rows is None else rows
            mask = self.id_mask[index]
            if self.training and self.adaptor is not None and self.config.id_dropout > 0:
                mask = mask * (torch.rand(len(index), 1, device=mask.device) >= self.config.id_dropout)
            parts.append(self.ids(index) * mask)
        table = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        index = torch.arange(self.n_items + 1, device=table.device) if rows is None else rows
        return table * (index != 0).unsqueeze(-1)

    def encode(self, inputs: torch.Tensor, gaps: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return self.user(inputs, gaps, table)


@dataclass
class SequentialScorer:
    """A fitted model for serving: the item table (rows 0..N) as numpy, and the user encoder."""

    config: SequentialConfig
    table: np.ndarray  # (N + 1, d) float32
    encoder: UserEncoder
    report: dict[str, Any] = field(default_factory=dict)

    def user_vector(self, rows: Sequence[int], times: Sequence[float]) -> np.ndarray | None:
        """The user's vector from their items (rows 1..N, oldest first) and times; None without any."""
        rows = [int(r) for r in rows if 0 < int(r) < len(self.table)]
        if not rows:
            return None
        return self.user_vectors([rows], [list(times)[-len(rows) :]])[0]

    def user_vectors(self, rows: Sequence[Sequence[int]], times: Sequence[Sequence[float]]) -> np.ndarray:
        """One vector per user (a batch of ``user_vector``); a user with no item gets zeros."""
        if not rows:
            return np.zeros((0, self.table.shape[1]), dtype=np.float32)
        windows = [
            window_arrays(r, t, self.config.max_length, self.config.gap_buckets)
            for r, t in zip(rows, times, strict=True)
        ]
        inputs = torch.as_tensor(np.stack([w[0] for w in windows]))
        gaps = torch.as_tensor(np.stack([w[1] for w in windows]))
        with torch.inference_mode():
            out = self.encoder(inputs, gaps, torch.as_tensor(self.table))[:, -1]
        vectors = out.numpy().astype(np.float32)
        vectors[(inputs != 0).sum(dim=1).numpy() == 0] = 0
        return vectors

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (``np.savez``-ready): the config, the table and the encoder's weights."""
        arrays = {
            f"{PREFIX}config": np.array(json.dumps(asdict(self.config))),
            f"{PREFIX}report": np.array(json.dumps(self.report, default=float)),
            f"{PREFIX}table": self.table,
        }
        for name, value in self.encoder.state_dict().items():
            arrays[f"{PREFIX}state__{name}"] = value.detach().cpu().numpy()
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Any) -> SequentialScorer | None:
        """The scorer saved by ``to_arrays`` (any mapping of arrays, e.g. an open ``np.load``);
        None when the arrays hold no sequential model."""
        if f"{PREFIX}config" not in arrays:
            return None
        config = SequentialConfig(**json.loads(str(arrays[f"{PREFIX}config"])))
        table = np.asarray(arrays[f"{PREFIX}table"], dtype=np.float32)
        encoder = UserEncoder(config)  # items come from the stored table
        state = {
            key[len(f"{PREFIX}state__") :]: torch.as_tensor(np.asarray(arrays[key]))
            for key in arrays
            if key.startswith(f"{PREFIX}state__")
        }
        encoder.load_state_dict(state)
        encoder.eval()
        report = json.loads(str(arrays[f"{PREFIX}report"])) if f"{PREFIX}report" in arrays else {}
        return cls(config=config, table=table, encoder=encoder, report=report)


# ---------------------------------------------------------------------------------------------
# Fitting


def _training_windows(data: Sequences, config: SequentialConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of max_length + 1 items (inputs and next-item targets), latest first per user."""
    inputs, gaps, targets = [], [], []
    span = config.max_length + 1
    for items, times in zip(data.items, data.times, strict=True):
        end = len(items)
        for _ in range(config.windows_per_user):
            if end < 2:
                break
            start = max(0, end - span)
            window_items, window_gaps = window_arrays(items[start:end], times[start:end], span, config.gap_buckets)
            inputs.append(window_items[:-1])
            gaps.append(window_gaps[:-1])
            targets.append(window_items[1:])
            end -= config.max_length
    if not inputs:
        empty = np.zeros((0, config.max_length), dtype=np.int64)
        return empty, empty, empty
    return np.stack(inputs), np.stack(gaps), np.stack(targets)


def _ndcg_at_10(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    target_scores = scores[np.arange(len(targets)), targets]
    # Ties count against the target, and a score that is not a number is a miss, never a hit.
    rank = (scores >= target_scores[:, None]).sum(axis=1) - 1
    rank[~np.isfinite(target_scores)] = len(scores[0])
    return np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def fit_sequential(
    data: Sequences,
    text_vectors: np.ndarray | None,
    config: SequentialConfig | None = None,
    *,
    seed: int = 0,
    budget_seconds: float = 600.0,
    threads: int | None = None,
    n_items: int | None = None,
) -> SequentialScorer | None:
    """Fit the model on ``data``; ``text_vectors`` (N + 1, text_dim) rows 0..N (row 0 ignored), or
    None with ``config.text`` False (then ``n_items`` rows, default the largest row seen). Each user's latest item is held out for validation and
    early stopping, then the best epoch is kept (its validation figures in ``report``). None
    when there are no two consecutive items to learn from."""
    config = config or SequentialConfig()
    started = time.perf_counter()
    if config.text and text_vectors is None:
        raise ValueError("This sequential model reads item text vectors: pass them, or set text=False.")
    if text_vectors is not None:
        n_items = len(text_vectors) - 1
    elif n_items is None:
        n_items = int(max((s.max() for s in data.items if len(s)), default=0))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
    try:
        # Validation: each user's latest item, predicted from the ones before it.
        train = Sequences(
            [s[:-1] if len(s) > 2 else s for s in data.items],
            [t[:-1] if len(t) > 2 else t for t, s in zip(data.times, data.items, strict=True)],
        )
        valid_users = [u for u, s in enumerate(data.items) if len(s) > 2]
        if len(valid_users) > config.validation_users:
            valid_users = sorted(rng.choice(valid_users, size=config.validation_users, replace=False).tolist())
        inputs, gaps, targets = _training_windows(train, config)
        if not len(inputs) or not (targets > 0).any():
            return None
        known = np.zeros(n_items + 1, dtype=bool)
        for items in train.items:
            known[items] = True
        device = _device(config.device)
        model = SequentialModel(config, n_items, text_vectors.shape[1] if text_vectors is not None else 1, known)
        model.to(device)
        text = (
            torch.as_tensor(np.asarray(text_vectors, dtype=np.float32), device=device)
            if text_vectors is not None
            else None
        )
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        full = n_items <= config.full_softmax_items

        valid_windows = [
            window_arrays(train.items[u], train.times[u], config.max_length, config.gap_buckets) for u in valid_users
        ]
        valid_inputs = (
            torch.as_tensor(np.stack([w[0] for w in valid_windows]), device=device) if valid_windows else None
        )
        valid_gaps = torch.as_tensor(np.stack([w[1] for w in valid_windows]), device=device) if valid_windows else None
        valid_targets = np.array([int(data.items[u][-1]) for u in valid_users], dtype=np.int64)
        valid_seen = [np.unique(train.items[u]) for u in valid_users]

        def evaluate() -> float:
            if valid_inputs is None:
                return 0.0
            model.eval()
            with torch.inference_mode():
                table = model.item_table(text)
                values = []
                for start in range(0, len(valid_users), 512):
                    out = model.encode(valid_inputs[start : start + 512], valid_gaps[start : start + 512], table)[:, -1]
                    scores = (out @ table.T).float().cpu().numpy()
                    scores[:, 0] = -np.inf
                    for row, seen in enumerate(valid_seen[start : start + 512]):
                        scores[row, seen] = -np.inf
                    values.append(_ndcg_at_10(scores, valid_targets[start : start + 512]))
            model.train()
            return float(np.mean(np.concatenate(values))) if values else 0.0

        history: list[dict[str, float]] = []
        best, best_state, best_epoch, stale = -1.0, None, 0, 0
        n = len(inputs)
        model.train()
        for epoch in range(1, config.max_epochs + 1):
            order = rng.permutation(n)
            losses = []
            for start in range(0, n, config.batch_size):
                batch = order[start : start + config.batch_size]
                x = torch.as_tensor(inputs[batch], device=device)
                g = torch.as_tensor(gaps[batch], device=device)
                y = torch.as_tensor(targets[batch], device=device)
                valid = y > 0
                if full:
                    table = model.item_table(text)
                    out = model.encode(x, g, table)[valid]
                    logits = out @ table[1:].T
                    loss = nn.functional.cross_entropy(logits, y[valid] - 1)
                else:
                    sampled = torch.as_tensor(
                        rng.integers(1, n_items + 1, size=config.sampled_negatives), device=device
                    )
                    rows = torch.unique(torch.cat([y[valid], sampled, x.flatten()]))
                    rows = rows[rows > 0]
                    part = model.item_table(text[rows] if text is not None else None, rows)
                    table = torch.zeros(n_items + 1, config.dimension, device=device)
                    table = table.index_put((rows,), part)
                    out = model.encode(x, g, table)[valid]
                    logits = out @ part.T
                    position = torch.searchsorted(rows, y[valid])
                    loss = nn.functional.cross_entropy(logits, position)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
            ndcg = evaluate()
            history.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 5), "valid_ndcg@10": round(ndcg, 5)})
            if ndcg > best:
                best, best_epoch, stale = ndcg, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
            elapsed = time.perf_counter() - started
            if stale >= config.patience or elapsed + elapsed / epoch > budget_seconds:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        with torch.inference_mode():
            table = model.item_table(text).float().cpu().numpy().astype(np.float32)
        model.to("cpu")  # served on CPU, from the stored table
        report = {
            "epochs": history,
            "best_epoch": best_epoch,
            "valid_ndcg@10": round(best, 5),
            "validation_users": len(valid_users),
            "windows": int(n),
            "items": int(n_items),
            "known_items": int(known.sum()),
            "softmax": "full" if full else f"sampled ({config.sampled_negatives} + in-batch)",
            "device": str(device),
            "seconds": round(time.perf_counter() - started, 2),
        }
        return SequentialScorer(config=config, table=table, encoder=model.user, report=report)
    finally:
        torch.set_num_threads(previous_threads)
