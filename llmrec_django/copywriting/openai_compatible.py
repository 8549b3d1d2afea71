"""Copy written by a model behind an OpenAI-compatible HTTP API (vLLM, Ollama, llama.cpp server,
OpenAI itself).

Configured through ``LLMREC["COPY"]``::

    "COPY": {
        "BACKEND": "llmrec_django.copywriting.OpenAICompatibleCopyGenerator",
        "OPTIONS": {"base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen2.5-1.5B-Instruct"},
    }

It POSTs ``{base_url}/chat/completions`` with ``model``, ``messages`` (``prompt.py``),
``max_tokens`` and ``temperature``, and reads ``choices[0].message.content``. The API key comes
from the ``api_key`` option, else from the environment variable named by ``api_key_env``
(default ``LLMREC_COPY_API_KEY``); none is sent when neither is set (local servers). The
request times out after ``timeout`` seconds or the caller's remaining budget, whichever is
shorter. A circuit breaker (``pybreaker``) guards the server: after ``breaker_failures``
consecutive failures (errors, timeouts, bad answers) the generator stops calling it for
``breaker_reset_seconds`` and every copy falls back to the template at once, instead of each
page waiting out its budget on a server that is down; then one trial call decides. HTTP with the
standard library (``urllib``).

Note: the request carries the item facts and the user's profile text to that server.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pybreaker

from llmrec_django.copywriting.base import CopyGenerationError, CopyGenerator, CopyRequest, reject_unknown_options
from llmrec_django.copywriting.prompt import build_messages

_OPTIONS = (
    "base_url, model, api_key, api_key_env, max_tokens, temperature, timeout, extra_body, "
    "breaker_failures, breaker_reset_seconds"
)


class OpenAICompatibleCopyGenerator(CopyGenerator):
    name = "openai"

    def __init__(
        self,
        base_url: str = "",
        model: str = "",
        api_key: str | None = None,
        api_key_env: str = "LLMREC_COPY_API_KEY",
        max_tokens: int = 160,
        temperature: float = 0.2,
        timeout: float = 10.0,
        extra_body: dict[str, Any] | None = None,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        **unknown: Any,
    ):
        reject_unknown_options("OpenAICompatibleCopyGenerator", unknown, _OPTIONS)
        problems = self.check_options({"base_url": base_url, "model": model})
        if problems:
            raise TypeError(" ".join(problems))
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096:
            raise TypeError(f"max_tokens must be an integer in [1, 4096], not {max_tokens!r}.")
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise TypeError(f"timeout must be a positive number of seconds, not {timeout!r}.")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.timeout = float(timeout)
        self.extra_body = dict(extra_body or {})
        if not isinstance(breaker_failures, int) or breaker_failures < 1:
            raise TypeError(f"breaker_failures must be a whole number of at least 1, not {breaker_failures!r}.")
        if not isinstance(breaker_reset_seconds, int | float) or breaker_reset_seconds <= 0:
            raise TypeError(f"breaker_reset_seconds must be a positive number, not {breaker_reset_seconds!r}.")
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=breaker_failures, reset_timeout=float(breaker_reset_seconds), name=f"copy:{self.base_url}"
        )

    @property
    def generator_name(self) -> str:
        return f"openai:{self.model}"

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> list[str]:
        problems = []
        url = options.get("base_url") or ""
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            problems.append(f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, not {url!r}.")
        if not options.get("model"):
            problems.append("model must name the served model.")
        return problems

    def _key(self) -> str | None:
        return self.api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None) or None

    def generate(self, request: CopyRequest, *, timeout: float | None = None) -> str:
        try:
            return self.breaker.call(self._ask, request, timeout)
        except pybreaker.CircuitBreakerError as exc:
            raise CopyGenerationError(
                f"{self.base_url} failed {self.breaker.fail_max} times in a row; not asked again for "
                f"{self.breaker.reset_timeout:g}s (circuit open)"
            ) from exc

    def _ask(self, request: CopyRequest, timeout: float | None) -> str:
        body = {
            **self.extra_body,
            "model": self.model,
            "messages": build_messages(request),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": False,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        http_request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        wait = self.timeout if timeout is None else max(min(self.timeout, timeout), 0.01)
        try:
            with urllib.request.urlopen(http_request, timeout=wait) as response:  # noqa: S310 - http(s) only
                payload = json.loads(response.read(1_000_000).decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip() if exc.fp else ""
            raise CopyGenerationError(f"HTTP {exc.code} from {self.base_url}: {detail[:200]}") from exc
        except TimeoutError as exc:
            raise CopyGenerationError(f"no answer from {self.base_url} within {wait:.1f}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise CopyGenerationError(f"no answer from {self.base_url} within {wait:.1f}s") from exc
            raise CopyGenerationError(f"cannot reach {self.base_url}: {exc.reason}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise CopyGenerationError(f"the answer from {self.base_url} is not JSON") from exc
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise CopyGenerationError(f"unexpected answer shape from {self.base_url}: {str(payload)[:200]}") from exc
        if not isinstance(content, str):
            raise CopyGenerationError(f"the answer's content is {type(content).__name__}, not text")
        return content
