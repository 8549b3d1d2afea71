"""Credit new engagement events to the served lists that showed their items
(``llmrec_django.learning.attribution``; Celery beat runs the same pass every minute).

python manage.py llmrec_attribute                 # every tenant
python manage.py llmrec_attribute --tenant shop
"""

from django.core.management.base import BaseCommand

from llmrec_django.learning.attribution import attribute
from llmrec_django.management.commands._tenant import tenant_from_options


class Command(BaseCommand):
    help = "Attribute clicks, carts, purchases and ratings to the recommendation lists that showed the items."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant).")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options) if options.get("tenant") else None
        for done in attribute(tenant):
            self.stdout.write(
                f"{done.tenant}: {done.attributed} events attributed; read up to event {done.events_read_up_to}"
            )
