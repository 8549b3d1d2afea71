"""Fit a tenant's collaborative model and the blend weights of its hybrid ranking.

python manage.py llmrec_fit                 # both, for the default tenant
python manage.py llmrec_fit --tenant shop --only blend
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.catalogue import collaborative
from llmrec_django.learning.blend import NotEnoughData, fit_ranking_model
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options


class Command(BaseCommand):
    help = "Fit the collaborative (ALS) model and the blend weights for a tenant, and print the weights."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--only", choices=["collaborative", "blend"], help="Fit only one of the two.")
        parser.add_argument("--max-users", type=int, help="Users sampled for the blend (LLMREC BLEND_FIT_USERS).")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        if options["only"] in (None, "collaborative"):
            record = collaborative.fit_collaborative_model(tenant)
            if record is None:
                self.stdout.write(self.style.WARNING("No positive interactions: no collaborative model."))
            else:
                self.stdout.write(
                    f"Collaborative model {record.pk}: {record.n_users} users x {record.n_items} items, "
                    f"{record.n_interactions} interactions, {record.fit_seconds:.2f}s -> {record.path}"
                )
        if options["only"] in (None, "blend"):
            try:
                model = fit_ranking_model(tenant, max_users=options.get("max_users"))
            except NotEnoughData as exc:
                raise CommandError(str(exc)) from None
            weights = ", ".join(f"{name}={w:+.4f}" for name, w in zip(model.feature_names, model.weights, strict=True))
            auc = "n/a" if model.valid_auc is None else f"{model.valid_auc:.4f}"
            loss = "n/a" if model.valid_loss is None else f"{model.valid_loss:.4f}"
            self.stdout.write(
                f"Blend {model.pk}: {weights}, bias={model.bias:+.4f}; validation "
                f"({model.metrics.get('validation', 'held-out users')}) AUC {auc}, loss {loss} "
                f"({model.metrics['users']} users, {model.n_train} rows, {model.metrics['seconds']}s)"
            )
