"""The embedded PostgreSQL server (used when DATABASE_URL is not set).

python manage.py llmrec_db status
python manage.py llmrec_db stop
"""

import os

from django.core.management.base import BaseCommand

from llmrec_django.database import embedded as database


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL server under LLMREC_HOME."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, **options):
        if os.environ.get("DATABASE_URL"):
            self.stdout.write("DATABASE_URL is set: the embedded server is not used.")
            return
        if options["action"] == "status":
            self.stdout.write(f"Embedded PostgreSQL data directory: {database.embedded_data_dir()}")
            return
        stopped = database.stop_embedded_server()
        self.stdout.write("Stopped." if stopped else "Not running.")
