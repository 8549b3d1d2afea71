"""The learning loop's schedule (``llmrec_django.learning.loop``) in django-celery-beat.

python manage.py llmrec_schedule            # add the loop's periodic tasks that are missing
python manage.py llmrec_schedule --list     # show them as stored (schedule, enabled, last run)
python manage.py llmrec_schedule --due      # which tenants the next refit would refit

Beat then runs them with ``celery -A <site> beat --scheduler django_celery_beat.schedulers:DatabaseScheduler``;
the admin ("Periodic tasks") changes their times, turns them off or runs one at once. An entry
that exists is never overwritten, so running this again (each deploy) keeps what the admin set.
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.learning import loop


class Command(BaseCommand):
    help = "Add the learning loop's periodic tasks (refit, fine-tune, attribution, outbox) to django-celery-beat."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="List the loop's periodic tasks; change nothing.")
        parser.add_argument(
            "--due", action="store_true", help="List the tenants with enough new interactions for a refit."
        )

    def handle(self, *args, **options):
        if options["due"]:
            for tenant in loop.tenants_due_for_refit():
                count = loop.new_interactions_since_refit(tenant)
                self.stdout.write(f"{tenant.slug}: {count} new interaction(s) since its latest blend")
            return
        if options["list"]:
            stored = loop.periodic_tasks()
            if not stored:
                self.stdout.write("None of the loop's periodic tasks is stored (run llmrec_schedule).")
            for task in stored:
                state = "on" if task["enabled"] else "off"
                last = f"last run {task['last_run_at']:%Y-%m-%d %H:%M}" if task["last_run_at"] else "never run"
                self.stdout.write(f"{task['name']:<28} {state:<3} {task['schedule']:<40} {last}")
            return
        try:
            created = loop.install_periodic_tasks()
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        for name in created:
            self.stdout.write(f"Added {name}")
        kept = len(loop.ENTRIES) - len(created)
        self.stdout.write(
            f"{len(created)} periodic task(s) added, {kept} kept as they were (or turned off in settings)."
        )
