"""Copy written under a time budget: the generator runs in a daemon thread, its text goes through
the validator, and the template's copy replaces it when it fails, errs or runs late. Django-free
(the service adds the cache and the catalogue lookups), so benchmarks run it without a database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString

from llmrec_django.copywriting.base import CopyGenerator, CopyRequest
from llmrec_django.copywriting.template import TemplateCopyGenerator
from llmrec_django.copywriting.validate import CopyRejected, validate_copy

logger = logging.getLogger(__name__)

template_generator = TemplateCopyGenerator()


@dataclass
class Copy:
    """Copy for one list. ``text`` is plain; ``html`` is it escaped for a template."""

    text: str
    generator_name: str
    fell_back: bool = False
    reason: str = ""
    cached: bool = False
    seconds: float = 0.0
    item_ids: list[int] = field(default_factory=list)
    attempted: str = ""  # the generator asked first
    tenant_id: int | None = None
    user_id: int | None = None

    @property
    def timed_out(self) -> bool:
        """The generator ran out of the time budget (or was busy): writing it ahead of time helps."""
        return self.reason.startswith("timeout") or "the model is busy" in self.reason

    @property
    def html(self) -> SafeString:
        return escape(self.text)

    def __str__(self) -> str:
        return self.text


class _Timeout(Exception):
    pass


def _run_with_budget(generator: CopyGenerator, request: CopyRequest, budget: float) -> str:
    """The generator's text, or ``_Timeout`` after ``budget`` seconds (the thread is left to end
    on its own: it is a daemon, and the generators stop at the budget they were given)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["text"] = generator.generate(request, timeout=budget)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="llmrec-copy", daemon=True).start()
    if not done.wait(budget):
        raise _Timeout(f"no copy within the {budget:g}s budget")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["text"]


def produce_copy(
    generator: CopyGenerator,
    request: CopyRequest,
    *,
    budget: float,
    catalogue_titles: Any = None,
) -> Copy:
    """Run ``generator`` for ``request``; the template's copy when it fails (never raises for a
    generator's sake)."""
    started = time.perf_counter()
    attempted = generator.generator_name
    if not generator.needs_validation:
        text = generator.generate(request, timeout=budget)
        return Copy(text=text, generator_name=attempted, seconds=time.perf_counter() - started, attempted=attempted)
    try:
        raw = _run_with_budget(generator, request, budget)
        text = validate_copy(raw, request, catalogue_titles=catalogue_titles)
        return Copy(text=text, generator_name=attempted, seconds=time.perf_counter() - started, attempted=attempted)
    except _Timeout as exc:
        reason = f"timeout: {exc}"
    except CopyRejected as exc:
        reason = f"rejected: {exc.reason}"
    except Exception as exc:  # noqa: BLE001 - any generator trouble means: use the template
        reason = f"error: {type(exc).__name__}: {exc}"
    logger.info("Copy by %s fell back to the template (%s).", generator.generator_name, reason)
    return Copy(
        text=template_generator.generate(request),
        generator_name=template_generator.generator_name,
        fell_back=True,
        reason=reason[:500],
        seconds=time.perf_counter() - started,
        attempted=attempted,
    )
