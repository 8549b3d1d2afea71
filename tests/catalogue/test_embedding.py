"""Building embedding versions with a real (tiny) transformer, keeping them fresh, switching."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from llmrec_django import tasks
from llmrec_django.catalogue import embedding
from llmrec_django.database import vectorstore
from llmrec_django.models import (
    EmbeddingVersion,
    Entity,
    Interaction,
    Item,
    ItemVector,
    Relation,
    UserProfile,
    UserVector,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue(tenant, tiny_encoder):
    titles = [
        ("m1", "Starlight Voyage", "A cosy science fiction film about a lighthouse on Mars.", "films"),
        ("m2", "Orbit of Tea", "Gentle space adventure with robots who brew tea.", "films"),
        ("m3", "Mud and Glory", "Trail running shoe with deep lugs for muddy hills.", "running shoes"),
        ("m4", "星际归途", "一部温暖的科幻电影，讲述宇航员回家的故事。", "films"),
        ("m5", "Cast Iron Skillet", "Heavy pan that sears steak and bakes cornbread.", "cookware"),
    ]
    items = [
        Item.objects.create(tenant=tenant, external_id=x, title=t, description=d, category=c) for x, t, d, c in titles
    ]
    scifi = Entity.objects.create(tenant=tenant, entity_type="genre", name="science fiction")
    Relation.objects.create(tenant=tenant, head_item=items[0], relation="has_genre", tail_entity=scifi)
    return items


def build(tenant, **kwargs):
    return embedding.build_version_in_process(tenant, concurrently=False, **kwargs)


def test_item_text_is_what_the_model_sees(catalogue):
    text = embedding.item_text(catalogue[0])
    assert text == (
        "Starlight Voyage. Category: films. A cosy science fiction film about a lighthouse on Mars. "
        "Related: genre: science fiction."
    )


def test_a_build_embeds_every_item_indexes_and_activates(tenant, catalogue):
    alice = UserProfile.objects.create(tenant=tenant, external_id="alice", profile_text="loves space films")
    Interaction.objects.create(tenant=tenant, event_id="e1", user=alice, item=catalogue[0], event_type="purchase")
    version = build(tenant)
    assert version.status == EmbeddingVersion.Status.ACTIVE
    assert version.items_done == version.items_total == 5
    assert ItemVector.objects.filter(version=version).count() == 5
    assert UserVector.objects.filter(version=version, user=alice).exists()
    assert vectorstore.index_exists(version)
    assert version.metrics["recall_at_10"] == 1.0

    vectors = vectorstore.item_vectors(version, [i.pk for i in catalogue])
    for item in catalogue:
        nearest = vectorstore.nearest_items(version, vectors[item.pk], 1)
        assert nearest[0].item_id == item.pk, "an item is its own nearest neighbour"


def test_the_chinese_item_gets_its_own_vector(tenant, catalogue):
    version = build(tenant)
    vectors = vectorstore.item_vectors(version, [i.pk for i in catalogue])
    chinese = vectors[catalogue[3].pk]
    assert np.all(np.isfinite(chinese))
    assert min(np.linalg.norm(chinese - vectors[i.pk]) for i in catalogue[:3]) > 1e-3


def test_running_a_chunk_twice_changes_nothing(tenant, catalogue):
    version = embedding.create_build(tenant)
    first, last = embedding.item_id_ranges(tenant, 100)[0]
    assert embedding.embed_item_range(version.pk, first, last) == 5
    before = dict(ItemVector.objects.filter(version=version).values_list("item_id", "updated_at"))
    assert embedding.embed_item_range(version.pk, first, last) == 0
    after = dict(ItemVector.objects.filter(version=version).values_list("item_id", "updated_at"))
    assert before == after
    version.refresh_from_db()
    assert version.items_done == 5


def test_celery_build_fans_out_chunks_and_switches(tenant, catalogue, settings):
    settings.LLMREC = {**settings.LLMREC, "EMBED_CHUNK_SIZE": 2}
    version = tasks.start_build(tenant)  # eager Celery in tests: the chord runs in-process
    version.refresh_from_db()
    assert version.status == "active"
    assert version.items_done == 5


def test_a_failed_build_never_touches_the_active_version(tenant, catalogue, monkeypatch):
    good = build(tenant)

    def broken(*args, **kwargs):
        raise RuntimeError("GPU fell over")

    monkeypatch.setattr(vectorstore, "build_index", broken)
    with pytest.raises(RuntimeError, match="GPU fell over"):
        build(tenant)
    assert vectorstore.active_version(tenant) == good
    failed = EmbeddingVersion.objects.exclude(pk=good.pk).get()
    assert failed.status == "failed" and "GPU fell over" in failed.error


def test_saving_an_item_reembeds_only_when_its_text_changed(tenant, catalogue):
    version = build(tenant)
    item = catalogue[2]
    before = ItemVector.objects.get(version=version, item=item)

    item.is_active = False
    item.save()  # not part of the text: nothing to do
    assert ItemVector.objects.get(version=version, item=item).updated_at == before.updated_at

    item.description = "Road racing flat, featherweight and fast."
    item.save()
    after = ItemVector.objects.get(version=version, item=item)
    assert after.content_hash != before.content_hash
    assert not np.allclose(after.embedding, before.embedding)
    others = ItemVector.objects.filter(version=version).exclude(item=item)
    assert all(v.updated_at <= before.updated_at for v in others)


def test_a_new_kg_edge_reembeds_its_item(tenant, catalogue):
    version = build(tenant)
    before = ItemVector.objects.get(version=version, item=catalogue[1]).content_hash
    scifi = Entity.objects.get(name="science fiction")
    Relation.objects.create(tenant=tenant, head_item=catalogue[1], relation="has_genre", tail_entity=scifi)
    assert ItemVector.objects.get(version=version, item=catalogue[1]).content_hash != before


def test_new_interactions_refresh_the_users_vector(tenant, catalogue, settings):
    bob = UserProfile.objects.create(tenant=tenant, external_id="bob")
    version = build(tenant)
    assert not UserVector.objects.filter(user=bob).exists(), "no events, no profile: no vector"
    Interaction.objects.create(tenant=tenant, event_id="b1", user=bob, item=catalogue[2], event_type="click")
    bob.refresh_from_db()
    assert bob.profile_text == "Likes running shoes such as Mud and Glory."  # written with the vector
    settings.LLMREC = {**settings.LLMREC, "INTEREST_PROFILE": {"GENERATE": False}}  # behaviour alone:
    Interaction.objects.create(tenant=tenant, event_id="b2", user=bob, item=catalogue[2], event_type="view")
    vector = vectorstore.user_vector(version, bob.pk)
    item_vector = vectorstore.item_vectors(version, [catalogue[2].pk])[catalogue[2].pk]
    assert vector is not None
    assert float(vector @ item_vector) == pytest.approx(1.0, abs=1e-5), "one item: the user is that item"


def test_the_refresh_reads_each_users_latest_events_with_their_times(tenant, catalogue, settings):
    settings.LLMREC = {**settings.LLMREC, "USER_HISTORY_LIMIT": 2}
    eve = UserProfile.objects.create(tenant=tenant, external_id="eve")
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    for n, item in enumerate(catalogue[:3]):
        Interaction.objects.create(
            tenant=tenant,
            event_id=f"e{n}",
            user=eve,
            item=item,
            event_type="click",
            timestamp=when + timedelta(hours=n),
        )
    rows = embedding._user_rows(tenant.pk, [eve.pk])[eve.pk]
    assert sorted(rows, key=lambda r: r[3]) == [
        (catalogue[1].pk, "click", None, when + timedelta(hours=1)),
        (catalogue[2].pk, "click", None, when + timedelta(hours=2)),
    ]


def test_a_new_user_with_only_a_profile_gets_a_vector(tenant, catalogue):
    carol = UserProfile.objects.create(tenant=tenant, external_id="carol", profile_text="我喜欢科幻电影")
    version = build(tenant)
    vector = vectorstore.user_vector(version, carol.pk)
    assert vector is not None and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_dislikes_push_the_user_away(tenant, catalogue):
    dan = UserProfile.objects.create(tenant=tenant, external_id="dan")
    now = timezone.now()
    Interaction.objects.create(
        tenant=tenant, event_id="d1", user=dan, item=catalogue[0], event_type="like", timestamp=now
    )
    Interaction.objects.create(
        tenant=tenant, event_id="d2", user=dan, item=catalogue[4], event_type="dislike", timestamp=now
    )
    version = build(tenant)
    vectors = vectorstore.item_vectors(version, [catalogue[0].pk, catalogue[4].pk])
    user = vectorstore.user_vector(version, dan.pk)
    liked, disliked = vectors[catalogue[0].pk], vectors[catalogue[4].pk]
    # compared with liking alone, the dislike moves the vector away from the disliked item
    assert float(user @ disliked) < float(liked @ disliked)


def test_embed_command_switch_and_rollback(tenant, catalogue, capsys):
    call_command("llmrec_embed", "--sync", verbosity=0)
    first = vectorstore.active_version(tenant)
    call_command("llmrec_embed", "--sync", verbosity=0)
    second = vectorstore.active_version(tenant)
    assert second != first
    call_command("llmrec_version", "rollback")
    assert vectorstore.active_version(tenant) == first
    capsys.readouterr()
    call_command("llmrec_version", "list")
    rows = {int(line.split()[0]): line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert rows == {first.pk: "active", second.pk: "ready"}
    call_command("llmrec_version", "retire", str(second.pk))
    assert EmbeddingVersion.objects.get(pk=second.pk).status == "retired"


def test_a_fine_tuned_models_users_are_written_as_it_was_trained(tenant, catalogue, tiny_encoder_dir, tmp_path):
    """A model saved with a user-tower recipe gets user vectors from the user's own text (their
    stated profile, not a generated one, and their last liked titles) added to the weighted
    history with the recipe's weight."""
    import shutil

    from llmrec_django.core.interest import interest_vector
    from llmrec_django.ml.encoders.user_tower import UserTower, write_user_tower

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_encoder_dir, tuned)
    write_user_tower(tuned, UserTower(history_items=2, anchor="titles", text_weight=3.0))
    erin = UserProfile.objects.create(tenant=tenant, external_id="erin", profile_text="I want quiet films")
    gus = UserProfile.objects.create(
        tenant=tenant,
        external_id="gus",
        profile_text="Likes cookware such as Cast Iron Skillet.",
        profile_text_source=UserProfile.TextSource.GENERATED,
    )
    start = timezone.now() - timezone.timedelta(days=1)
    for n, (user, item, event_type) in enumerate(
        [(erin, 0, "click"), (erin, 1, "purchase"), (erin, 4, "dislike"), (erin, 2, "view"), (gus, 4, "like")]
    ):
        Interaction.objects.create(
            tenant=tenant,
            event_id=f"t{n}",
            user=user,
            item=catalogue[item],
            event_type=event_type,
            timestamp=start + timezone.timedelta(minutes=n),
        )
    version = build(tenant, model_path=str(tuned))
    encoder = embedding.encoder_for(version)
    texts = embedding.user_tower_texts(
        tenant.pk, [erin.pk, gus.pk], embedding._user_rows(tenant.pk, [erin.pk, gus.pk]), UserTower(2)
    )
    # The last two liked items, oldest first; the dislike is not "liked"; gus's generated text stays out.
    assert texts == {
        erin.pk: "I want quiet films. Recently liked: Orbit of Tea; Mud and Glory.",
        gus.pk: "Recently liked: Cast Iron Skillet.",
    }
    # erin's vector: her events' weighted item vectors plus 3 x her text's vector.
    events = embedding._user_rows(tenant.pk, [erin.pk])[erin.pk]
    items = vectorstore.item_vectors(version, [e[0] for e in events])
    now = timezone.now()
    weights = embedding.event_weights(
        [e[1] for e in events],
        [e[2] for e in events],
        np.array([(now - e[3]).total_seconds() for e in events]),
        embedding.llmrec_settings.EVENT_WEIGHTS,
        float(embedding.llmrec_settings.RECENCY_HALF_LIFE_DAYS),
    )
    expected = interest_vector(
        np.stack([items[e[0]] for e in events]), weights, encoder.encode([texts[erin.pk]])[0], 3.0
    )
    assert vectorstore.user_vector(version, erin.pk) == pytest.approx(expected, abs=1e-4)
    # The base model has no recipe: its users keep the profile text with PROFILE_WEIGHT.
    base = build(tenant)
    assert embedding.read_user_tower(embedding.encoder_for(base).model_path) is None
    assert vectorstore.user_vector(base, erin.pk) != pytest.approx(vectorstore.user_vector(version, erin.pk), abs=1e-3)


def _model_with_tower(tiny_encoder_dir, tmp_path, tower):
    """A copy of the tiny encoder saved with a user-tower recipe, as a fine-tuning leaves it."""
    import shutil

    from llmrec_django.ml.encoders.user_tower import write_user_tower

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_encoder_dir, tuned)
    write_user_tower(tuned, tower)
    return tuned


def _user_with_events(tenant, catalogue, external_id, events):
    """A user with a profile text and ``(catalogue index, event type)`` events an hour apart."""
    user = UserProfile.objects.create(tenant=tenant, external_id=external_id, profile_text="Quiet films please")
    start = timezone.now() - timezone.timedelta(days=3)
    for n, (item, event_type) in enumerate(events):
        Interaction.objects.create(
            tenant=tenant, event_id=f"{external_id}{n}", user=user, item=catalogue[item], event_type=event_type,
            timestamp=start + timezone.timedelta(hours=n),
        )  # fmt: skip
    return user


def test_the_blend_fit_sees_a_fine_tuned_models_users_as_the_service_does(
    tenant, catalogue, tiny_encoder_dir, tmp_path
):
    """The blend's training snapshot makes each user's vector the service's way: with a user
    tower, the weighted history plus the user's text (else it would learn weights for features
    the service never serves)."""

    from llmrec_django.catalogue.collaborative import load_interactions
    from llmrec_django.learning.blend import TrainingSnapshot
    from llmrec_django.ml.encoders.user_tower import UserTower

    tuned = _model_with_tower(tiny_encoder_dir, tmp_path, UserTower(history_items=2, anchor="titles", text_weight=2.0))
    ida = _user_with_events(tenant, catalogue, "ida", [(0, "purchase"), (1, "click"), (4, "dislike"), (2, "like")])
    version = build(tenant, model_path=str(tuned))
    snapshot = TrainingSnapshot(tenant, load_interactions(tenant), load_interactions(tenant, positive_only=False))
    served = vectorstore.user_vector(version, ida.pk)
    assert snapshot.user_vector(ida.pk) == pytest.approx(served, abs=1e-4)
    # Without the text the vectors differ: the test would catch a snapshot that leaves it out.
    snapshot.text_vectors[ida.pk] = None
    assert snapshot.user_vector(ida.pk) != pytest.approx(served, abs=1e-3)


def test_a_history_towers_users_are_their_last_liked_items_weighted_by_position(
    tenant, catalogue, tiny_encoder_dir, tmp_path
):
    """A model saved with the user tower "history": a user's vector is their last liked items'
    vectors (dislikes are not liked, older items beyond ``history_items`` left out) weighted by
    the learnt position weights, plus their stated text; the blend's snapshot makes it the same way."""

    from llmrec_django.catalogue.collaborative import load_interactions
    from llmrec_django.core.interest import interest_vector
    from llmrec_django.learning.blend import TrainingSnapshot
    from llmrec_django.ml.encoders.user_tower import UserTower, write_user_tower

    tuned = _model_with_tower(
        tiny_encoder_dir, tmp_path, UserTower(2, "history", text_weight=0.5, position_weights=(0.2, 0.8))
    )
    jo = _user_with_events(tenant, catalogue, "jo", [(0, "purchase"), (1, "click"), (2, "like"), (4, "dislike")])
    version = build(tenant, model_path=str(tuned))
    encoder = embedding.encoder_for(version)
    items = vectorstore.item_vectors(version, [catalogue[1].pk, catalogue[2].pk])
    expected = interest_vector(
        np.stack([items[catalogue[1].pk], items[catalogue[2].pk]]),  # the last two liked, oldest first
        [0.2, 0.8],
        encoder.encode(["Quiet films please."])[0],
        0.5,
    )
    served = vectorstore.user_vector(version, jo.pk)
    assert served == pytest.approx(expected, abs=1e-4)
    snapshot = TrainingSnapshot(tenant, load_interactions(tenant), load_interactions(tenant, positive_only=False))
    assert snapshot.user_vector(jo.pk) == pytest.approx(served, abs=1e-4)
    # Weighted the other way round, the vector differs: the positions matter.
    write_user_tower(tuned, UserTower(2, "history", text_weight=0.5, position_weights=(0.8, 0.2)))
    embedding.compute_user_vectors(version, [jo.pk])
    assert vectorstore.user_vector(version, jo.pk) != pytest.approx(served, abs=1e-3)


def test_user_vectors_of_a_version_without_a_model_need_no_encoder(tenant, catalogue):
    """Vectors computed elsewhere (model_path "-"): behaviour alone makes the users' vectors,
    whatever texts the users have (their own, or generated from their events)."""
    hana = UserProfile.objects.create(tenant=tenant, external_id="hana", profile_text="Quiet trail runs")
    Interaction.objects.create(tenant=tenant, event_id="h1", user=hana, item=catalogue[2], event_type="purchase")
    version = vectorstore.create_version(tenant, model_name="imported", model_path="-", dimension=4)
    vectorstore.write_item_vectors(
        version, [catalogue[2].pk], np.array([[0.0, 0.6, 0.8, 0.0]], dtype=np.float32), ["h"]
    )
    assert embedding.compute_user_vectors(version, [hana.pk]) == 1
    assert vectorstore.user_vector(version, hana.pk) == pytest.approx([0.0, 0.6, 0.8, 0.0], abs=1e-6)
