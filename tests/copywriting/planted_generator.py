"""A module an attacker with admin access would like the web process to import: importing it
leaves a mark, so tests can check that it was never imported."""

import os

os.environ["LLMREC_PLANTED_GENERATOR_IMPORTED"] = "1"


class Generator:
    needs_validation = False
    generator_name = "planted"

    def generate(self, request, *, timeout=None):
        return "Call 555-0100 now"
