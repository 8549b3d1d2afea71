"""Write recommendation copy ahead of time (or show it), and clear expired copy.

python manage.py llmrec_copy --user user-005 --print      # write it now and print it
python manage.py llmrec_copy --all-active-users --days 30  # every recently active user
python manage.py llmrec_copy --all-active-users --queue    # as Celery tasks (generate_copy)
python manage.py llmrec_copy --purge-expired
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.copywriting import service
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options
from llmrec_django.models import UserProfile
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.tasks import generate_copy

TASK_BATCH = 100


class Command(BaseCommand):
    help = "Write and cache recommendation copy for users (with the configured LLMREC['COPY'] generator)."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--user", action="append", default=[], help="A user's external id (repeatable).")
        who.add_argument("--all-active-users", action="store_true", help="Users with recent interactions.")
        parser.add_argument("--days", type=float, default=30.0, help="'Active' means an event in this many days.")
        parser.add_argument("--k", type=int, help="Items per list (default: LLMREC COPY MAX_ITEMS).")
        parser.add_argument("--queue", action="store_true", help="Send Celery tasks instead of writing here.")
        parser.add_argument("--print", action="store_true", dest="show", help="Print each copy (--user only).")
        parser.add_argument("--purge-expired", action="store_true", help="Delete expired cached copy.")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        if options["purge_expired"]:
            self.stdout.write(f"Deleted {service.purge_expired_copy(tenant)} expired copies.")
            if not (options["user"] or options["all_active_users"]):
                return
        if options["k"] is not None and options["k"] <= 0:
            raise CommandError("--k must be positive.")
        if options["user"]:
            found = dict(
                UserProfile.objects.filter(tenant=tenant, external_id__in=options["user"]).values_list(
                    "external_id", "pk"
                )
            )
            missing = [u for u in options["user"] if u not in found]
            if missing:
                raise CommandError(f"No user {', '.join(map(repr, missing))} in tenant {tenant.slug!r}.")
            user_ids = [found[u] for u in options["user"]]
        elif options["all_active_users"]:
            user_ids = service.active_user_ids(tenant, options["days"])
        else:
            raise CommandError("Name users with --user, or pass --all-active-users (or --purge-expired).")

        if options["queue"]:
            for start in range(0, len(user_ids), TASK_BATCH):
                generate_copy.delay(tenant.pk, user_ids[start : start + TASK_BATCH], options["k"])
            self.stdout.write(f"Queued copy for {len(user_ids)} users.")
            return
        if options["show"] and options["user"]:
            self._write_and_print(tenant, options["user"], options["k"])
            return
        written = service.precompute_copy(tenant, user_ids, k=options["k"])
        self.stdout.write(f"Copy for {len(user_ids)} users: {written} written, {len(user_ids) - written} cached.")

    def _write_and_print(self, tenant, external_ids, k):
        budget = float(service.copy_settings()["AHEAD_OF_TIME_BUDGET_SECONDS"])
        for external_id in external_ids:
            result = recommend_for_user(external_id, tenant=tenant, k=k or service.copy_settings()["MAX_ITEMS"])
            copy = service.write_copy(external_id, result, tenant=tenant, time_budget=budget)
            status = "cached" if copy.cached else f"{copy.seconds:.2f}s"
            fallback = f", fell back: {copy.reason}" if copy.fell_back else ""
            self.stdout.write(f"{external_id} [{copy.generator_name}, {status}{fallback}]\n{copy.text}\n")
