"""Prepare the demo: the sample catalogue, an admin account, a first embedding version, the
fitted ranking (collaborative model + blend weights), the learning loop's schedule for beat, and a
running experiment (so the admin's experiment dashboard fills up as visitors browse).

    python manage.py demo_setup            # does only what is missing; safe to run again
    python manage.py demo_setup --reload   # re-import the sample catalogue (idempotent)

The catalogue is written by ``example_site.shop.sample_catalogue`` into LLMREC_HOME/sample and
loaded through the same importer a site would use.
"""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from example_site.shop.sample_catalogue import write_sample_catalogue
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import vectorstore
from llmrec_django.database.tenancy import get_default_tenant
from llmrec_django.models import Experiment, ExperimentArm, Item, RankingModel

DEMO_ADMIN = ("admin", "admin")


class Command(BaseCommand):
    help = "Load the sample catalogue, create the demo admin and embed the catalogue (what is missing)."

    def add_arguments(self, parser):
        parser.add_argument("--reload", action="store_true", help="Import the sample files even if items exist.")

    def handle(self, *args, **options):
        tenant = get_default_tenant()
        if options["reload"] or not Item.objects.for_tenant(tenant).exists():
            # The sample's events end now (its week is this week), not on its fixed date.
            files = write_sample_catalogue(llmrec_settings.home / "sample", ending=timezone.now())
            self.stdout.write(f"Importing the sample catalogue from {files['items'].parent} ...")
            call_command(
                "llmrec_import",
                items=str(files["items"]),
                users=str(files["users"]),
                relations=str(files["relations"]),
                events=str(files["events"]),
                verbosity=options["verbosity"],
            )
        User = get_user_model()
        if not User.objects.filter(username=DEMO_ADMIN[0]).exists():
            User.objects.create_superuser(DEMO_ADMIN[0], "admin@example.com", DEMO_ADMIN[1])
            self.stdout.write(f"Created the demo admin ({DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}).")
        if vectorstore.active_version(tenant) is None:
            self.stdout.write("Embedding the catalogue with the default model ...")
            call_command("llmrec_embed", sync=True, verbosity=options["verbosity"])
        if not RankingModel.objects.for_tenant(tenant).exists():
            self.stdout.write("Fitting the collaborative model and the blend weights ...")
            call_command("llmrec_fit", verbosity=options["verbosity"])
        # The learning loop's periodic tasks for beat (what exists is kept as the admin set it).
        call_command("llmrec_schedule", verbosity=options["verbosity"])
        if not Experiment.objects.for_tenant(tenant).exists():
            experiment = Experiment.objects.create(
                tenant=tenant,
                name="diversity",
                description="Do more diverse 'for you' lists (MMR lambda 0.5 against the default 0.8) get more clicks? "
                "A shadow arm scores lists from vector search alone, without showing them.",
            )
            ExperimentArm.objects.create(experiment=experiment, name="control", traffic=50, is_control=True)
            ExperimentArm.objects.create(
                experiment=experiment, name="diverse", traffic=50, strategy={"mmr_lambda": 0.5}
            )
            ExperimentArm.objects.create(
                experiment=experiment, name="vector-only", traffic=0, is_shadow=True, strategy={"sources": ["vector"]}
            )
            self.stdout.write("Started the experiment 'diversity' (admin: Experiments -> Online metrics).")
        self.stdout.write(self.style.SUCCESS("Demo ready."))
