"""Fine-tuning on the site's own interactions: the encoder (two-tower, InfoNCE) and the CTR
re-ranker (cross-encoder, BCE), as recorded ``TrainingRun``s with safe promotion.

- ``data``: examples from interactions, with the evaluation's temporal split as validation;
- ``loop``: the shared loop (AdamW, warm-up, accumulation, autocast, early stopping,
  checkpoints, seeds, torchrun data parallelism); ``modules``: the networks and losses;
- ``trainers``: the two trainers; ``runs``: a run from start to promotion, scheduled retraining;
- ``promotion``: offline evaluation against the active model, promote, roll back;
- ``reranker``: the re-ranker at serving time (``recommend_for_user`` calls ``rerank``).

Entry points: ``python manage.py llmrec_train {encoder,reranker}``, the Celery task
``llmrec_django.tasks.train_model`` (queue ``LLMREC["QUEUES"]["train"]``), the admin's
"Training runs". Nothing here imports torch until a model is trained or loaded, so web
processes and Celery parents never initialise CUDA before they fork.
"""
