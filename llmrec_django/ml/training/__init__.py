"""The networks and losses (``modules``) and the shared training loop (``loop``) that
``llmrec_django.learning.training`` drives. Torch only: no Django, no ORM."""
