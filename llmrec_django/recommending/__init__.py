"""The parts of the recommend service (``llmrec_django.recommend``), one concern per module.

- ``data``: bulk loading from the database, one query per kind: a user's history, item rows,
  knowledge-graph edges and KG candidates, time-decayed popularity (cached briefly).
- ``rules``: business rules (boost, bury, pin, block) that match a request's context.
- ``explain``: an explanation in plain words for each recommended item.
- ``new_items``: the items without collaborative evidence (cached per process) and the places
  kept for them in each list.
- ``blend``: fitting the blend weights on a validation split (``fit_ranking_model``).

Callers use ``llmrec_django.recommend``; these modules are its internals.
"""
