"""Learning from what users did: the blend (``blend``), fine-tuning runs (``training``), offline
evaluation (``evaluation``, ``evaluation_reports``), promotion, and online measurement
(``attribution``, ``online_report``).

Sits above the recommend service (it evaluates what serving would do) and below the entry points.
"""
