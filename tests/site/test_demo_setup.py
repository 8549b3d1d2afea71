"""``demo_setup`` (what scripts/demo runs), with the tiny encoder standing in for the real one."""

import pytest
from django.core.management import call_command

from llmrec_django.database import caches, vectorstore
from llmrec_django.models import Experiment, Item, RankingModel, UserProfile
from llmrec_django.recommend import serving

pytestmark = pytest.mark.django_db(transaction=True)  # the embed builds its index concurrently


def test_demo_setup_loads_embeds_fits_and_starts_the_experiment(tiny_encoder, tenant, settings, tmp_path):
    settings.LLMREC = {**settings.LLMREC, "HOME": str(tmp_path)}
    call_command("demo_setup", verbosity=0)
    assert Item.objects.filter(tenant=tenant).count() > 300
    assert vectorstore.active_version(tenant) is not None
    assert RankingModel.objects.filter(tenant=tenant).exists()
    experiment = Experiment.objects.get(tenant=tenant, name="diversity")
    assert sorted((a.name, a.is_shadow) for a in experiment.arms.all()) == [
        ("control", False), ("diverse", False), ("vector-only", True),
    ]  # fmt: skip
    caches.clear_all()
    user = UserProfile.objects.filter(tenant=tenant).order_by("pk").first()
    result = serving.for_user(user, k=5)
    assert result.experiment == "diversity" and result.arm in {"control", "diverse"} and len(result.items) == 5
    call_command("demo_setup", verbosity=0)  # again: nothing more is created
    assert Experiment.objects.filter(tenant=tenant).count() == 1
