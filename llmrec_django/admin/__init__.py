"""Admin screens: the catalogue (items with their embedding status and knowledge-graph edges),
behaviour (interactions with filters), the knowledge graph, embedding versions with build /
activate / roll back / retire actions and build progress, business rules, fitted models, API keys,
conversations, copy; and two pages of their own: the recommendation preview (any user's list with
scores, sources and explanations, in a chosen context) and evaluation reports (offline
evaluations with server-rendered SVG charts, started from the admin).

Actions call the same services as the management commands (``tasks.start_build``,
``vectorstore.activate_version`` ...), so the admin adds no behaviour of its own.
"""

# Each module registers its screens with the admin site when imported (Django's admin
# autodiscovery imports this package).
from llmrec_django.admin import catalogue, experiments, pages, ranking, training, work  # noqa: F401
from llmrec_django.admin.actions import preview_url

__all__ = ["preview_url"]
