"""One rank of the data-parallel test (``tests/ml/test_training_loop.py``), started by torchrun:

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/training_ddp_worker.py MODEL_DIR OUT_DIR

Trains the tiny BERT as a two-tower encoder on synthetic pairs with the shared loop (gloo on
CPU), then writes what this rank saw: world size, epochs, and a checksum of its weights.
"""

import functools
import json
import sys
from pathlib import Path

import torch

from llmrec_django.ml.training.loop import LoopConfig, fit, init_distributed
from llmrec_django.ml.training.modules import BiEncoder, collate_pairs, info_nce_loss, info_nce_validation
from tests.tiny_models import CORPUS


def main(model_dir: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist_info = init_distributed("cpu")
    model = BiEncoder(model_dir, max_length=32)
    pairs = [(CORPUS[i], CORPUS[(i + 1) % len(CORPUS)], []) for i in range(len(CORPUS))]
    config = LoopConfig(epochs=2, batch_size=4, learning_rate=1e-3, device="cpu", patience=5, grad_accumulation=2)
    result = fit(
        model,
        pairs,
        functools.partial(collate_pairs, model),
        info_nce_loss,
        lambda module: info_nce_validation(module, [(a, b) for a, b, _ in pairs[:8]], 4, 0.05),
        config,
        dist_info=dist_info,
    )
    checksum = float(sum(p.detach().double().sum() for p in model.parameters()))
    Path(out_dir, f"rank{dist_info.rank}.json").write_text(
        json.dumps(
            {
                "rank": dist_info.rank,
                "world_size": result.world_size,
                "epochs": [e.to_dict() for e in result.epochs],
                "steps": result.steps,
                "checksum": checksum,
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main(sys.argv[1], sys.argv[2])
