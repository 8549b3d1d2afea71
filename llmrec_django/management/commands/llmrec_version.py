"""Inspect and switch embedding versions.

python manage.py llmrec_version list
python manage.py llmrec_version activate 12
python manage.py llmrec_version rollback      # back to the previously active version
python manage.py llmrec_version retire 9      # drop its vectors and index
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.catalogue import embedding
from llmrec_django.database import vectorstore
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options
from llmrec_django.models import EmbeddingVersion


class Command(BaseCommand):
    help = "List, activate, roll back or retire embedding versions."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("action", choices=["list", "activate", "rollback", "retire"])
        parser.add_argument("version", nargs="?", type=int, help="Version id (activate, retire).")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        action = options["action"]
        if action == "list":
            for row in embedding.version_summary(tenant):
                self.stdout.write(
                    "{id:>5}  {status:<9} {dimension:>5}d  {items:>13}  recall@10={recall_at_10}  {model}  "
                    "created {created}  {activated}".format(**row)
                )
            return
        try:
            if action == "rollback":
                version = vectorstore.rollback(tenant)
                self.stdout.write(self.style.SUCCESS(f"Rolled back: version {version.pk} is active."))
                return
            if options["version"] is None:
                raise CommandError(f"{action} needs a version id.")
            version = EmbeddingVersion.objects.for_tenant(tenant).filter(pk=options["version"]).first()
            if version is None:
                raise CommandError(f"No embedding version {options['version']} in tenant {tenant.slug!r}.")
            if action == "activate":
                vectorstore.activate_version(version)
                self.stdout.write(self.style.SUCCESS(f"Version {version.pk} is active."))
            else:
                vectorstore.retire_version(version)
                self.stdout.write(self.style.SUCCESS(f"Version {version.pk} retired."))
        except vectorstore.VersionStateError as exc:
            raise CommandError(str(exc)) from None
