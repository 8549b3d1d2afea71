"""The training loop both models share: AdamW, linear warm-up then decay, gradient accumulation,
mixed precision on CUDA, early stopping on a validation figure, checkpoints, seeded runs, and
data-parallel training under ``torchrun`` (no Django import here).

Usage::

    config = LoopConfig(epochs=2, batch_size=32, learning_rate=2e-5)
    result = fit(module, train_examples, collate, loss_fn, validate, config, checkpoint=save_best)

- ``module``: a ``torch.nn.Module``; ``loss_fn(module, batch) -> scalar loss``; ``collate(list of
  examples) -> batch`` (tensors are moved to the device here); ``validate(module) -> dict`` with at
  least ``"valid_loss"`` (called on rank 0 only). ``LoopConfig.monitor`` names the figure that
  picks the best epoch and stops early: ``valid_loss`` (lower is better) by default, or e.g.
  ``valid_ndcg@10`` (higher is better).
- ``checkpoint(module, epoch)`` is called on rank 0 whenever that figure improves: the
  caller saves the weights (``save_pretrained``). The best epoch's weights are the run's result.
- Mixed precision: ``precision="auto"`` uses bf16 autocast on a CUDA device that supports it,
  else fp16 autocast with a gradient scaler, and fp32 on CPU.
- Several processes (``torchrun --nproc_per_node N``, or any launcher that sets ``WORLD_SIZE``,
  ``RANK``, ``LOCAL_RANK``): ``init_distributed()`` joins the process group (NCCL on CUDA, gloo on
  CPU), every rank takes its shard of each epoch (``DistributedSampler``, same seed everywhere),
  gradients are averaged by ``DistributedDataParallel``; rank 0 validates, checkpoints, and tells
  the others whether to stop early. In-batch negatives are those of each rank's own batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass
class LoopConfig:
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    grad_accumulation: int = 1
    max_grad_norm: float = 1.0
    patience: int = 1
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    # The validation figure that picks the best epoch and stops early: a loss is minimised,
    # anything else (valid_ndcg@10, valid_auc ...) maximised.
    monitor: str = "valid_loss"

    @property
    def monitor_lower_is_better(self) -> bool:
        return self.monitor.endswith("loss")

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "grad_accumulation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate!r}.")
        if self.weight_decay < 0 or not 0 <= self.warmup_ratio < 1:
            raise ValueError("weight_decay must be >= 0 and warmup_ratio in [0, 1).")
        if self.patience < 0:
            raise ValueError("patience must be >= 0.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}.")
        if not isinstance(self.monitor, str) or not self.monitor.startswith("valid_"):
            raise ValueError(
                f"monitor must name a validation figure (valid_loss, valid_ndcg@10 ...), not {self.monitor!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    seconds: float
    valid: dict[str, float] = field(default_factory=dict)
    best: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "seconds": self.seconds,
            "best": self.best,
            # JSON (and PostgreSQL's jsonb) has no NaN: an undefined metric is stored as null.
            **{key: value if math.isfinite(value) else None for key, value in self.valid.items()},
        }


@dataclass
class FitResult:
    epochs: list[EpochRecord]
    best_epoch: int | None
    best_valid_loss: float | None
    stopped_early: bool
    device: str
    precision: str
    world_size: int
    steps: int


# ---------------------------------------------------------------------------------------------
# Process group, device, precision, seeds


@dataclass(frozen=True)
class DistributedInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistributedInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); idempotent."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedInfo()
    import torch
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistributedInfo(rank=rank, local_rank=local_rank, world_size=world_size)


def resolve_device(device: str, dist_info: DistributedInfo | None = None):
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", dist_info.local_rank if dist_info and dist_info.enabled else 0)
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"Training device {device!r} was asked for but CUDA is not available.")
    if resolved.type == "cuda" and dist_info and dist_info.enabled and resolved.index is None:
        resolved = torch.device("cuda", dist_info.local_rank)
    return resolved


def resolve_precision(precision: str, device) -> str:
    """The autocast dtype name actually used. "auto" is bf16 (else fp16) on CUDA and fp32 on CPU;
    "bf16" asked for on a CPU is used there too (autocast on CPU: on one with AVX-512 BF16, a
    MiniLM training step took 0.6x the fp32 time); fp16 is CUDA-only."""
    import torch

    if device.type != "cuda":
        if precision == "bf16" and device.type == "cpu":
            return "bf16"
        if precision == "fp16":
            logger.warning("Precision fp16 asked for on %s; training in fp32.", device)
        return "fp32"
    if precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return precision


def autocast_context(device, precision: str):
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def move_to(batch: Any, device) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict) or hasattr(batch, "items"):
        return {key: move_to(value, device) for key, value in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(move_to(value, device) for value in batch)
    return batch


# ---------------------------------------------------------------------------------------------
# The loop


def fit(
    module,
    examples: Sequence[Any],
    collate: Callable[[list[Any]], Any],
    loss_fn: Callable[[Any, Any], Any],
    validate: Callable[[Any], dict[str, float]],
    config: LoopConfig,
    *,
    checkpoint: Callable[[Any, int], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    dist_info: DistributedInfo | None = None,
) -> FitResult:
    """Train ``module`` on ``examples`` (see the module docstring); returns the per-epoch records."""
    import torch
    from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

    if not examples:
        raise ValueError("No training examples.")
    dist_info = dist_info or init_distributed(config.device)
    device = resolve_device(config.device, dist_info)
    precision = resolve_precision(config.precision, device)
    seed_everything(config.seed)
    module.to(device)
    model = module
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    generator = torch.Generator().manual_seed(config.seed)
    if dist_info.enabled:
        sampler = DistributedSampler(
            examples, num_replicas=dist_info.world_size, rank=dist_info.rank, shuffle=True, seed=config.seed
        )
    else:
        sampler = RandomSampler(examples, generator=generator)
    loader = DataLoader(list(examples), batch_size=config.batch_size, sampler=sampler, collate_fn=collate)

    decay, no_decay = [], []
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "LayerNorm" in name or name.endswith(".bias") else decay).append(
                parameter
            )
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    steps_per_epoch = math.ceil(len(loader) / config.grad_accumulation)
    total_steps = max(1, steps_per_epoch * config.epochs)
    warmup = int(config.warmup_ratio * total_steps)

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

    records: list[EpochRecord] = []
    sign = 1.0 if config.monitor_lower_is_better else -1.0  # compared as sign * value, lower is better
    best_score, best_loss, best_epoch, stale, stopped_early, step = math.inf, None, None, 0, False, 0
    for epoch in range(1, config.epochs + 1):
        if dist_info.enabled:
            sampler.set_epoch(epoch)
        model.train()
        started = time.perf_counter()
        losses = []
        optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(loader):
            batch = move_to(batch, device)
            last_of_step = (index + 1) % config.grad_accumulation == 0 or index + 1 == len(loader)
            # Gradients are all-reduced only on the micro-batch that ends an optimiser step.
            sync = model.no_sync() if dist_info.enabled and not last_of_step else contextlib.nullcontext()
            with sync:
                with autocast_context(device, precision):
                    loss = loss_fn(model, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"The training loss is {loss.item()} at epoch {epoch}, batch {index}.")
                scaler.scale(loss / config.grad_accumulation).backward()
            losses.append(float(loss.detach()))
            if last_of_step:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if on_progress and dist_info.is_main:
                    on_progress(step / total_steps)
        train_loss = _mean_over_ranks(losses, dist_info, device)
        seconds = round(time.perf_counter() - started, 3)

        stop = torch.zeros(1, device=device)
        record = EpochRecord(epoch=epoch, train_loss=round(train_loss, 6), seconds=seconds)
        if dist_info.is_main:
            module.eval()
            with torch.no_grad(), autocast_context(device, precision):
                record.valid = {key: round(float(value), 6) for key, value in validate(module).items()}
            if config.monitor not in record.valid:
                raise ValueError(
                    f"monitor {config.monitor!r} is not among this run's validation figures: "
                    f"{', '.join(sorted(record.valid))}."
                )
            score = sign * record.valid[config.monitor]
            if score < best_score:
                best_score, best_epoch, stale, record.best = score, epoch, 0, True
                best_loss = record.valid.get("valid_loss")
                if checkpoint:
                    checkpoint(module, epoch)
            else:
                stale += 1
                if stale > config.patience:
                    stop += 1
            records.append(record)
            if on_epoch:
                on_epoch(record)
            logger.info("Epoch %s: %s", epoch, record.to_dict())
        if dist_info.enabled:
            import torch.distributed as dist

            dist.broadcast(stop, src=0)
        if stop.item() > 0 and epoch < config.epochs:
            stopped_early = True
            break
    return FitResult(
        epochs=records,
        best_epoch=best_epoch,
        best_valid_loss=best_loss,
        stopped_early=stopped_early,
        device=str(device),
        precision=precision,
        world_size=dist_info.world_size,
        steps=step,
    )


def _mean_over_ranks(losses: list[float], dist_info: DistributedInfo, device) -> float:
    import torch

    total = torch.tensor([sum(losses), len(losses)], dtype=torch.float64, device=device)
    if dist_info.enabled:
        import torch.distributed as dist

        dist.all_reduce(total)
    return float(total[0] / total[1].clamp(min=1))
