"""The outbox: follow-up work is stored with the events, survives a broker outage, and is done
once; a real Redis broker is stopped and restarted in the end-to-end test."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command
from django.db import transaction
from kombu.exceptions import OperationalError

from llmrec_django import tasks
from llmrec_django.catalogue import embedding
from llmrec_django.database import outbox
from llmrec_django.models import PendingWork, UserProfile, UserVector
from llmrec_django.queues import all_queues
from tests.api_helpers import API, api_key_client, keyword_encoder_settings
from tests.broker_helpers import wait_until
from tests.recommend_helpers import activate, make_item


@pytest.fixture
def shop(tenant, settings):
    """Three films with hand-made vectors in an active version, the keyword encoder, an API key."""
    keyword_encoder_settings(settings)
    films = [
        make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        make_item(tenant, "field", "Quiet Field", vector=[0, 1, 0, 0]),
        make_item(tenant, "war", "Iron Front", vector=[0, 0, 1, 0]),
    ]
    version = activate(tenant, films)
    PendingWork.objects.all().delete()  # the films' own re-embedding work
    return {"version": version, "client": api_key_client(tenant)[0]}


def event(n, user, item="ship", event_type="purchase"):
    return {"event_id": f"e{n}", "user_id": user, "item_id": item, "event_type": event_type}


def post_events(client, *events):
    return client.post(API + "events/bulk/", {"events": list(events)}, format="json")


@pytest.fixture
def refreshes(monkeypatch):
    """The user-vector refreshes run, as (tenant id, user ids)."""
    calls = []
    real = embedding.refresh_users
    monkeypatch.setattr(embedding, "refresh_users", lambda t, ids: calls.append((t, list(ids))) or real(t, ids))
    return calls


def user_pks(*external_ids):
    return sorted(UserProfile.objects.filter(external_id__in=external_ids).values_list("pk", flat=True))


# --- stored with the events, sent after the commit ---------------------------------------------


@pytest.mark.django_db
def test_the_work_is_stored_with_the_events_and_removed_when_done(shop, tenant, refreshes,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_events(shop["client"], event(1, "ann"), event(2, "bob", "field"))
    assert response.status_code == 201
    work = PendingWork.objects.get()
    ann_bob = user_pks("ann", "bob")
    assert (work.tenant_id, work.task, work.args) == (
        tenant.pk,
        "llmrec_django.tasks.refresh_user_vectors",
        [tenant.pk, ann_bob],
    )
    assert work.sent_at is not None and work.attempts == 1  # claimed for the send after the commit
    assert refreshes == []

    for callback in callbacks:  # the commit: sent (run eagerly here), done, removed
        callback()
    assert refreshes == [(tenant.pk, ann_bob)]
    assert not PendingWork.objects.exists()
    assert UserVector.objects.filter(version=shop["version"], user_id__in=ann_bob).count() == 2


@pytest.mark.django_db
def test_a_broker_error_never_fails_the_request_and_the_work_waits(shop, tenant, monkeypatch, refreshes,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    down = True
    send = tasks.refresh_user_vectors.apply_async

    def broker(*args, **kwargs):
        if down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        return send(*args, **kwargs)

    monkeypatch.setattr(tasks.refresh_user_vectors, "apply_async", broker)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_events(shop["client"], event(1, "ann"))
    assert response.status_code == 201 and response.json()["created"] == 1
    work = PendingWork.objects.get()
    assert work.sent_at is None and work.attempts == 0 and "Connection refused" in work.last_error

    report = outbox.drain()  # still down: nothing sent, nothing lost
    assert (report.sent, report.unsent) == (0, 1) and PendingWork.objects.get().sent_at is None

    down = False  # the broker is back
    report = outbox.drain()
    assert report.sent == 1 and refreshes == [(tenant.pk, user_pks("ann"))]
    assert not PendingWork.objects.exists()
    assert outbox.drain().sent == 0 and len(refreshes) == 1


@pytest.mark.django_db
def test_asking_again_for_pending_work_bumps_it_and_only_the_latest_message_does_it(shop, tenant, refreshes):
    args = (tenant.pk, user_pks())  # no user: the refresh itself is a no-op here
    with transaction.atomic():
        outbox.enqueue(tenant.pk, tasks.refresh_user_vectors, [args])
        outbox.enqueue(tenant.pk, tasks.refresh_user_vectors, [args])
        work = PendingWork.objects.get()
        assert work.generation == 2

        # A message of generation 1 finds newer work pending: it leaves it to generation 2's.
        tasks.refresh_user_vectors.apply(args, headers={outbox.HEADER: [work.pk, 1]})
        assert refreshes == [] and PendingWork.objects.filter(pk=work.pk).exists()
        # A task of generation 1 that finishes after the bump removes nothing.
        outbox.work_done(outbox.PendingRef(work.pk, 1))
        assert PendingWork.objects.filter(pk=work.pk).exists()

        tasks.refresh_user_vectors.apply(args, headers={outbox.HEADER: [work.pk, 2]})
        assert len(refreshes) == 1 and not PendingWork.objects.exists()
        # Delivered again (a resend, a redelivery): the work is done, the message is skipped.
        tasks.refresh_user_vectors.apply(args, headers={outbox.HEADER: [work.pk, 2]})
        assert len(refreshes) == 1


@pytest.mark.django_db
def test_a_refresh_is_sent_to_run_after_the_delay_and_a_drained_one_at_once(shop, tenant, settings, monkeypatch,
                                                                           django_capture_on_commit_callbacks):  # fmt: skip
    sent = []
    monkeypatch.setattr(tasks.refresh_user_vectors, "apply_async", lambda args, **kw: sent.append(kw.get("countdown")))
    settings.LLMREC = {**settings.LLMREC, "REFRESH_DELAY_SECONDS": 3}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_events(shop["client"], event(1, "ann")).status_code == 201
    assert sent == [3.0]
    PendingWork.objects.update(sent_at=None)  # as if the broker had lost it
    assert outbox.drain().sent == 1 and sent == [3.0, None]


@pytest.mark.django_db
def test_a_refresh_also_does_the_tenants_other_pending_refreshes_whose_messages_are_then_skipped(
    shop, tenant, refreshes, django_capture_on_commit_callbacks
):
    # Three event batches whose messages wait in a busy queue (not sent yet here).
    with django_capture_on_commit_callbacks(execute=False):
        for n, user in enumerate(["ann", "bob", "cy"]):
            assert post_events(shop["client"], event(n, user)).status_code == 201
    rows = list(PendingWork.objects.order_by("pk"))
    assert len(rows) == 3
    first, *others = rows

    tasks.refresh_user_vectors.apply(first.args, headers={outbox.HEADER: [first.pk, first.generation]})
    assert refreshes == [(tenant.pk, user_pks("ann", "bob", "cy"))]  # one pass for all three
    assert not PendingWork.objects.exists()
    assert UserVector.objects.filter(version=shop["version"]).count() == 3
    for row in others:  # their messages arrive: the work is done, they are skipped
        tasks.refresh_user_vectors.apply(row.args, headers={outbox.HEADER: [row.pk, row.generation]})
    assert len(refreshes) == 1


@pytest.mark.django_db
def test_a_refresh_asked_for_again_while_joined_stays_pending(shop, tenant, refreshes, monkeypatch,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        post_events(shop["client"], event(1, "ann"))
        post_events(shop["client"], event(2, "bob"))
    first, second = PendingWork.objects.order_by("pk")
    real = embedding.refresh_users

    def refresh_while_bob_clicks(tenant_id, ids):
        with django_capture_on_commit_callbacks(execute=False):  # bob's new batch, same work again
            outbox.enqueue(tenant.pk, tasks.refresh_user_vectors, [second.args])
        return real(tenant_id, ids)

    monkeypatch.setattr(embedding, "refresh_users", refresh_while_bob_clicks)
    tasks.refresh_user_vectors.apply(first.args, headers={outbox.HEADER: [first.pk, first.generation]})
    assert list(PendingWork.objects.values_list("pk", "generation")) == [(second.pk, 2)]


@pytest.mark.django_db
def test_a_redelivered_refresh_does_only_its_own_users(shop, tenant, refreshes, settings,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        post_events(shop["client"], event(1, "ann"))
        post_events(shop["client"], event(2, "bob"))
    first, second = PendingWork.objects.order_by("pk")
    headers = {outbox.HEADER: [first.pk, first.generation]}
    # An earlier delivery of this message died with its worker (its count was left behind).
    from llmrec_django.database.deliveries import count_delivery

    count_delivery("redelivered", 0, tasks.refresh_user_vectors.name)
    tasks.refresh_user_vectors.apply(first.args, headers=headers, task_id="redelivered")
    assert refreshes == [(tenant.pk, user_pks("ann"))]
    assert list(PendingWork.objects.values_list("pk", flat=True)) == [second.pk]

    settings.LLMREC = {**settings.LLMREC, "REFRESH_COALESCE_USERS": 0}  # coalescing off
    with django_capture_on_commit_callbacks(execute=False):
        post_events(shop["client"], event(3, "cy"))
    tasks.refresh_user_vectors.apply(second.args, headers={outbox.HEADER: [second.pk, second.generation]})
    assert refreshes[-1] == (tenant.pk, user_pks("bob"))
    assert PendingWork.objects.count() == 1  # cy's, for its own message


@pytest.mark.django_db
def test_sent_work_is_resent_only_after_the_delay_and_given_up_after_the_maximum(tenant, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.embed_changed_items, "apply_async", lambda args, **options: sent.append(options))
    with transaction.atomic():
        outbox.enqueue(tenant.pk, tasks.embed_changed_items, [(tenant.pk, [1, 2])])
    PendingWork.objects.update(sent_at=None, attempts=0)  # as if the send after the commit failed

    assert outbox.drain().sent == 1 and outbox.drain().sent == 0  # sent, and not again at once
    work = PendingWork.objects.get()
    assert sent[0]["headers"] == {outbox.HEADER: [work.pk, 1]} and work.attempts == 1

    settings.LLMREC = {**settings.LLMREC, "OUTBOX_RESEND_SECONDS": 0, "TASK_MAX_DELIVERIES": 2}
    assert outbox.drain().sent == 1 and PendingWork.objects.get().attempts == 2  # never done: again
    report = outbox.drain()
    assert (report.sent, report.given_up) == (0, 1)
    assert PendingWork.objects.get().given_up_at is not None and outbox.drain().sent == 0

    with transaction.atomic():  # asked for again: a new chance
        outbox.enqueue(tenant.pk, tasks.embed_changed_items, [(tenant.pk, [1, 2])])
    work = PendingWork.objects.get()
    assert (work.given_up_at, work.generation, work.attempts) == (None, 2, 1)


@pytest.mark.django_db
def test_work_for_a_task_that_no_longer_exists_is_given_up(tenant):
    PendingWork.objects.create(tenant=tenant, task="llmrec_django.tasks.renamed_since", args=[1], key="k1")
    assert outbox.drain().sent == 0
    work = PendingWork.objects.get()
    assert work.given_up_at is not None and "no task named" in work.last_error
    assert outbox.drain().sent == 0


@pytest.mark.django_db
def test_the_command_drains_and_lists(tenant, monkeypatch, capsys):
    sent = []
    monkeypatch.setattr(tasks.embed_changed_items, "apply_async", lambda args, **options: sent.append(args))
    with transaction.atomic():
        outbox.enqueue(tenant.pk, tasks.embed_changed_items, [(tenant.pk, [7])])
    PendingWork.objects.update(sent_at=None, attempts=0)
    call_command("llmrec_outbox", "--list")
    assert "embed_changed_items" in capsys.readouterr().out and sent == []
    call_command("llmrec_outbox")
    assert "Sent 1, gave up 0; 1 piece(s) of work not done yet." in capsys.readouterr().out
    assert sent == [[tenant.pk, [7]]]


@pytest.mark.django_db
def test_a_refresh_delivered_twice_changes_nothing(shop, tenant):
    post_events(shop["client"], event(1, "ann"), event(2, "ann", "field", "view"), event(3, "bob", "war"))
    users = user_pks("ann", "bob")

    def vectors():
        rows = UserVector.objects.filter(version=shop["version"]).order_by("user_id")
        return [(v.user_id, v.events_used, np.asarray(v.embedding)) for v in rows]

    tasks.refresh_user_vectors.apply((tenant.pk, users))
    first = vectors()
    tasks.refresh_user_vectors.apply((tenant.pk, users))
    second = vectors()
    assert [(u, n) for u, n, _ in first] == [(u, n) for u, n, _ in second] == [(users[0], 2), (users[1], 1)]
    for (_, _, a), (_, _, b) in zip(first, second, strict=True):
        assert np.allclose(a, b, atol=1e-6)  # the same, but for seconds of recency decay


# --- end to end: a real Redis broker goes down and comes back ------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_events_sent_while_the_broker_is_down_are_refreshed_once_it_is_back(broker, broker_app, shop, tenant,
                                                                            refreshes):  # fmt: skip
    from celery.contrib.testing.worker import start_worker

    broker.stop()
    first = post_events(shop["client"], event(1, "ann"), event(2, "bob", "field"))
    second = post_events(shop["client"], event(3, "cid", "war"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert [work.args[1] for work in PendingWork.objects.all()] == [user_pks("ann", "bob"), user_pks("cid")]
    assert all(work.sent_at is None and work.last_error for work in PendingWork.objects.all())
    assert outbox.drain().unsent == 2  # still down
    assert not UserVector.objects.exists()

    broker.start()
    assert outbox.drain().sent == 2
    with start_worker(broker_app, pool="solo", queues=all_queues(), perform_ping_check=False, shutdown_timeout=30):
        wait_until(lambda: not PendingWork.objects.exists())
        assert not PendingWork.objects.exists()
        # The first message did the second's work too (coalesced); the second was skipped.
        assert refreshes == [(tenant.pk, user_pks("ann", "bob", "cid"))]
        assert set(UserVector.objects.values_list("user_id", flat=True)) == set(user_pks("ann", "bob", "cid"))
        stamps = dict(UserVector.objects.values_list("user_id", "updated_at"))

        assert outbox.drain().sent == 0  # draining again changes nothing
        assert dict(UserVector.objects.values_list("user_id", "updated_at")) == stamps

        # With the broker up, the work is sent right after the commit, no drain needed.
        assert post_events(shop["client"], event(4, "dee")).status_code == 201
        wait_until(lambda: not PendingWork.objects.exists())
        assert not PendingWork.objects.exists()
        assert UserVector.objects.filter(user_id__in=user_pks("dee")).exists()
    assert len(refreshes) == 2


@pytest.mark.django_db
def test_an_erased_users_id_is_taken_out_of_pending_work(tenant):
    pending = [(tenant.pk, [7, 8]), (tenant.pk, [7]), (tenant.pk, [8])]
    outbox.enqueue(tenant.pk, tasks.refresh_user_vectors, pending)
    outbox.enqueue(tenant.pk, tasks.embed_changed_items, [(tenant.pk, [7])])  # item 7, not user 7
    assert outbox.forget_users(tenant.pk, [7]) == 2
    left = sorted((work.task.rsplit(".", 1)[1], work.args) for work in PendingWork.objects.all())
    # [7, 8] became [8], which was already pending: one row for user 8 remains.
    assert left == [("embed_changed_items", [tenant.pk, [7]]), ("refresh_user_vectors", [tenant.pk, [8]])]
    assert outbox.forget_users(tenant.pk, [7]) == 0
