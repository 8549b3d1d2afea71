"""llmrec-django: recommendations powered by a language model, for any Django site."""

__version__ = "0.1.0"
