"""Settings for the test suite: the example site with a fast password hasher and eager Celery.

The database is the embedded PostgreSQL (under LLMREC_HOME) unless DATABASE_URL is set.
"""

import os

os.environ.pop("CELERY_BROKER_URL", None)  # tests that need a real broker start their own worker

from example_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False

# Served lists are written in the request (the background writer's own connection cannot see a
# test's uncommitted rows); tests of the background writer switch it on themselves.
# Events are attributed as soon as they are stored (no wait for other processes' write buffers).
LLMREC = {**LLMREC, "ONLINE": {"LOG_WRITES": "inline", "ATTRIBUTION_DELAY_SECONDS": 0}}  # noqa: F405
# The template writes copy in tests (deterministic, instant); tests of the model generators build
# a tiny causal LM and pass it, and one slow test runs the real SmolLM2.
# A small sequential model and few epochs: the suite fits one for every tenant with sequences.
LLMREC["SEQUENTIAL"] = {
    "BUDGET_SECONDS": 20,
    "OPTIONS": {"dimension": 16, "layers": 1, "max_length": 20, "max_epochs": 20, "patience": 3},
}
LLMREC["COPY"] = {"BACKEND": "llmrec_django.copywriting.TemplateCopyGenerator"}

# A read replica for the serving reads' tests (``database.routing``): the same test database
# under a second alias; the app reads from it only where a test sets SERVING_DATABASE.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
