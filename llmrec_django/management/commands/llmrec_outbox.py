"""Send the outbox's pending work now, in the foreground (``llmrec_django.database.outbox``; Celery beat
runs the same pass, ``drain_outbox``, every 10 seconds).

python manage.py llmrec_outbox            # send what is due; say what is left
python manage.py llmrec_outbox --list     # show the pending work, send nothing
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.database import outbox
from llmrec_django.models import PendingWork


class Command(BaseCommand):
    help = "Send the follow-up work (vector refreshes) kept in the outbox while the broker was unreachable."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="List the pending work; send nothing.")

    def handle(self, *args, **options):
        if options["list"]:
            for work in PendingWork.objects.all():
                self.stdout.write(f"{work.pk}  tenant {work.tenant_id}  {work}  {_state(work)}")
            return
        report = outbox.drain()
        left = PendingWork.objects.filter(given_up_at__isnull=True).count()
        self.stdout.write(f"Sent {report.sent}, gave up {report.given_up}; {left} piece(s) of work not done yet.")
        if report.unsent:
            raise CommandError(f"The broker is unreachable: {report.unsent} piece(s) of work could not be sent.")


def _state(work: PendingWork) -> str:
    if work.given_up_at:
        state = f"given up {work.given_up_at:%Y-%m-%d %H:%M:%S}"
    elif work.sent_at:
        state = f"sent {work.sent_at:%Y-%m-%d %H:%M:%S}"
    else:
        state = "unsent"
    error = f"; last error: {work.last_error.splitlines()[0]}" if work.last_error else ""
    return f"{state}, {work.attempts} attempt(s){error}"
