"""Text encoders: turn item, user and query text into L2-normalised vectors.

This package imports neither Django nor the ORM; ``llmrec_django.conf.backends.get_encoder()`` builds
the configured one from ``LLMREC["ENCODER"]``.
"""

from llmrec_django.ml.encoders.base import BaseEncoder, model_dimension, resolve_model_path
from llmrec_django.ml.encoders.transformer import TransformerEncoder

__all__ = ["BaseEncoder", "TransformerEncoder", "model_dimension", "resolve_model_path"]
