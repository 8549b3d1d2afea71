"""A small shop with a behaviour log for the training tests (tiny encoder, active version)."""

from datetime import timedelta

from django.utils import timezone

from llmrec_django.catalogue import embedding
from llmrec_django.database import caches
from llmrec_django.models import Interaction, Item, UserProfile
from tests.tiny_models import CORPUS

START = timezone.now() - timedelta(days=60)

# Two tastes: films (items 7-14 of CORPUS) and gear (0-6); users follow one taste in order.
FILMS = list(range(7, 15))
GEAR = list(range(0, 7))


def build_shop(tenant, n_users: int = 12):
    """Items from the tiny corpus, users with ordered histories, impressions they ignored;
    an embedding version built with the configured (tiny) encoder and activated."""
    items = []
    for index, text in enumerate(CORPUS[:18]):
        title, _, rest = text.partition(":")
        items.append(
            Item.objects.create(
                tenant=tenant,
                external_id=f"i{index}",
                title=(title if rest else text)[:60],
                description=text,
                category="film" if index in FILMS else "gear",
            )
        )
    users = []
    for u in range(n_users):
        taste = FILMS if u % 2 else GEAR
        profile = UserProfile.objects.create(
            tenant=tenant, external_id=f"u{u}", profile_text="loves films" if u % 2 else "outdoor and kitchen gear"
        )
        users.append(profile)
        order = taste[u % 3 :] + taste[: u % 3]
        for day, index in enumerate(order[:5]):
            Interaction.objects.create(
                tenant=tenant,
                event_id=f"{u}-{index}",
                user=profile,
                item=items[index],
                event_type="purchase" if day % 2 else "click",
                timestamp=START + timedelta(days=day, hours=u),
            )
        ignored = (GEAR if u % 2 else FILMS)[u % 4]
        Interaction.objects.create(
            tenant=tenant,
            event_id=f"{u}-shown-{ignored}",
            user=profile,
            item=items[ignored],
            event_type="impression",
            timestamp=START + timedelta(days=1, hours=u),
        )
    version = embedding.build_version_in_process(tenant, concurrently=False)
    caches.clear_all()
    return items, users, version


def fast_training(settings, **training):
    """LLMREC TRAINING for quick CPU runs on the tiny model (merged into the current settings)."""
    current = getattr(settings, "LLMREC", {})
    settings.LLMREC = {
        **current,
        "TRAINING": {
            "ARTIFACTS": training.pop("ARTIFACTS"),
            "EVALUATION_USERS": None,
            "COMMON": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "max_length": 32, "device": "cpu"},
            "RERANKER": {"batch_size": 8, "top_n": 20},
            **training,
        },
    }
