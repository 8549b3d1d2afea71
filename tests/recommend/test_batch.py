"""Batch recommendations (``recommend.batch``, ``llmrec_batch``, the batch tasks, the API's
``users/<id>/batch/``): every active user once, idempotent chunks, resume after a crash, the files
in storage, served-list logging and attribution, and the input boundaries."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from llmrec_django import queues, tasks
from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.checks import check_batch
from llmrec_django.learning import loop
from llmrec_django.learning.attribution import attribute
from llmrec_django.models import Attribution, BatchList, BatchRun, Interaction, ServedList, UserProfile
from llmrec_django.recommend import batch
from tests.api_helpers import API, account, api_key_client, logged_in, profile_of
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

ACTIVE_USERS = 12


@pytest.fixture(autouse=True)
def batch_settings(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "batch_files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "BATCH": {"STORAGE": "batch_files", "CHUNK_SIZE": 5, "K": 4},
    }


@pytest.fixture
def shop(tenant):
    """20 items, 12 users active this week (one event each), 3 last active a year ago, 2 never."""
    rng = np.random.default_rng(5)
    items = [make_item(tenant, f"item-{i:02d}", f"Item {i}", vector=rng.normal(size=4)) for i in range(20)]
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"user-{u:02d}") for u in range(17)]
    activate(tenant, items, users=[(u, rng.normal(size=4)) for u in users])
    now = timezone.now()
    for n, user in enumerate(users[:15]):
        when = now - timedelta(days=2) if n < ACTIVE_USERS else now - timedelta(days=365)
        Interaction.objects.create(
            tenant=tenant, event_id=f"e{n}", user=user, item=items[n], event_type="purchase", timestamp=when
        )
    return items, users


def test_a_run_covers_every_active_user_once_and_writes_files_that_parse_back(shop, tenant):
    items, users = shop
    run = batch.start_run(tenant, active_days=30, sync=True)

    assert run.status == BatchRun.Status.DONE and run.users_total == run.users_done == ACTIVE_USERS
    lists = BatchList.objects.filter(run=run)
    assert sorted(lists.values_list("user_id", flat=True)) == sorted(u.pk for u in users[:ACTIVE_USERS])
    for row in lists:
        consumed = Interaction.objects.get(user_id=row.user_id).item.external_id
        assert len(row.items) == 4 and consumed not in [i["item"] for i in row.items]
        served = ServedList.objects.get(pk=row.served_list_id)  # logged as served, so attribution sees it
        assert served.user_id == row.user_id and served.context == {"batch_run": run.pk}
        assert [items[0].__class__.objects.get(pk=i).external_id for i in served.item_ids] == [
            i["item"] for i in row.items
        ]

    storage = batch.batch_storage()
    assert run.jsonl_file == f"llmrec/batch/{tenant.slug}/run-{run.pk}.jsonl"
    with storage.open(run.jsonl_file) as f:
        records = [json.loads(line) for line in f.read().decode().splitlines()]
    assert sorted(r["user"] for r in records) == [f"user-{u:02d}" for u in range(ACTIVE_USERS)]
    by_user = {r["user"]: r for r in records}
    some = lists.select_related("user").first()
    assert by_user[some.user.external_id]["items"] == some.items
    assert by_user[some.user.external_id]["recommendation_id"] == str(some.served_list_id)
    with storage.open(run.csv_file) as f:
        rows = list(csv.DictReader(io.StringIO(f.read().decode())))
    assert len(rows) == 4 * ACTIVE_USERS and set(rows[0]) == set(batch.CSV_HEADER)
    assert {r["rank"] for r in rows} == {"1", "2", "3", "4"}


def test_a_segment_names_its_users_and_unknown_ones_are_an_error(shop, tenant):
    run = batch.start_run(tenant, users=["user-16", "user-15", "user-16"], k=2, sync=True)
    assert run.users_total == 2 and run.segment == {"users": 2}
    assert set(BatchList.objects.filter(run=run).values_list("user__external_id", flat=True)) == {"user-15", "user-16"}
    with pytest.raises(ValueError, match="1 of the segment's users are not in tenant"):
        batch.start_run(tenant, users=["user-01", "nobody"], sync=True)
    assert BatchRun.objects.count() == 1  # nothing created for the bad segment


def test_a_redelivered_chunk_writes_nothing_twice(shop, tenant, monkeypatch):
    run = batch.start_run(tenant, sync=True)
    calls = []
    monkeypatch.setattr(batch, "recommend_for_user", lambda *a, **kw: calls.append(a) or pytest.fail("recomputed"))
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.RUNNING)
    assert batch.compute_chunk(run.pk, run.user_ids[:5]) == 0
    assert calls == [] and BatchList.objects.filter(run=run).count() == ACTIVE_USERS


def test_a_crashed_run_resumes_computing_only_the_missing_users(shop, tenant, monkeypatch):
    real = batch.recommend_for_user
    computed = []

    def crashes_on_the_eighth(profile, **kwargs):
        if len(computed) == 7:
            raise RuntimeError("worker died")
        computed.append(profile.pk)
        return real(profile, **kwargs)

    monkeypatch.setattr(batch, "recommend_for_user", crashes_on_the_eighth)
    with pytest.raises(RuntimeError, match="worker died"):
        batch.start_run(tenant, sync=True)
    run = BatchRun.objects.get()
    assert run.status == BatchRun.Status.FAILED and "worker died" in run.error
    assert run.users_done == 7 and BatchList.objects.filter(run=run).count() == 7  # the chunk's first 2 kept too
    first_pass = list(computed)

    computed.clear()
    monkeypatch.setattr(
        batch, "recommend_for_user", lambda profile, **kw: computed.append(profile.pk) or real(profile, **kw)
    )
    call_command("llmrec_batch", "--resume", str(run.pk), "--sync", stdout=io.StringIO())
    run.refresh_from_db()
    assert run.status == BatchRun.Status.DONE and run.users_done == ACTIVE_USERS
    assert not set(computed) & set(first_pass) and len(computed) == ACTIVE_USERS - 7
    with pytest.raises(CommandError, match="is done"):
        call_command("llmrec_batch", "--resume", str(run.pk), "--sync")


def test_the_celery_chord_computes_the_run_and_the_beat_entry_is_off_by_default(
    shop, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("llmrec_batch", "--k", "3", stdout=io.StringIO())  # eager Celery in the tests
    run = BatchRun.objects.get()
    assert run.status == BatchRun.Status.DONE and run.k == 3 and run.users_done == ACTIVE_USERS
    assert "batch" in {entry.key for entry in loop.ENTRIES}
    assert "llmrec: batch" not in loop.beat_schedule()
    assert check_batch() == []
    for name in (queues.BATCH_CHUNK, queues.BATCH_FINISH, queues.SCHEDULED_BATCH):
        assert queues.route_task(name, (), {}, {}) == {"queue": llmrec_settings.QUEUES["default"]}

    with django_capture_on_commit_callbacks(execute=True):
        started = tasks.scheduled_batch.delay().get()  # beat's entry, once switched on
    assert started == [BatchRun.objects.latest("pk").pk]  # one tenant: one run
    assert BatchRun.objects.get(pk=started[0]).status == BatchRun.Status.DONE


def test_attribution_credits_a_click_on_a_batch_list(shop, tenant):
    run = batch.start_run(tenant, sync=True)
    row = BatchList.objects.filter(run=run).select_related("user").first()
    clicked = row.items[1]["item"]
    event = Interaction.objects.create(
        tenant=tenant, event_id="click-1", user=row.user, item=shop[0][0].__class__.objects.get(external_id=clicked),
        event_type="click", context={"list_id": str(row.served_list_id)},
    )  # fmt: skip
    attribute(tenant)
    credit = Attribution.objects.get(interaction=event)
    assert credit.served_list_id == row.served_list_id and credit.position == 2


def test_the_api_serves_the_latest_batch_list_to_those_who_may_read_it(shop, tenant):
    ann = account("ann")
    profile = profile_of(tenant, ann, "ann")
    client = logged_in(ann)
    assert client.get(f"{API}users/ann/batch/").status_code == 404  # no run yet
    Interaction.objects.create(tenant=tenant, event_id="a", user=profile, item=shop[0][3], event_type="view")
    batch.start_run(tenant, k=2, sync=True)
    newest = batch.start_run(tenant, users=["ann"], k=3, sync=True)

    response = client.get(f"{API}users/ann/batch/")
    assert response.status_code == 200, response.content
    body = response.json()
    listed = BatchList.objects.get(run=newest, user=profile)
    assert body["run"] == newest.pk and body["k"] == 3 and body["list_id"] == str(listed.served_list_id)
    assert [i["external_id"] for i in body["items"]] == [i["item"] for i in listed.items]
    assert "no-store" in response["Cache-Control"]

    assert client.get(f"{API}users/user-01/batch/").status_code == 404  # another user's: not found
    assert APIClient_anonymous().get(f"{API}users/ann/batch/").status_code in (401, 403)
    keyed, _ = api_key_client(tenant, scopes=("read",))
    assert keyed.get(f"{API}users/user-01/batch/").status_code == 200
    assert keyed.get(f"{API}users/user-16/batch/").status_code == 404  # never active: no list


def APIClient_anonymous():
    from rest_framework.test import APIClient

    return APIClient()


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(min_value=-5, max_value=5000), days=st.integers(min_value=-5, max_value=5000))
def test_the_command_refuses_k_and_days_out_of_range_and_creates_nothing(tenant, k, days):
    in_range = 1 <= k <= 100 and 1 <= days <= batch.MAX_ACTIVE_DAYS  # MAX_K is 100 by default
    runs_before = BatchRun.objects.count()  # the examples share the test's database
    try:
        call_command("llmrec_batch", "--k", str(k), "--active-days", str(days), "--sync", stdout=io.StringIO())
    except CommandError:
        assert not in_range
        assert BatchRun.objects.count() == runs_before
    else:
        assert in_range
        run = BatchRun.objects.latest("pk")
        assert BatchRun.objects.count() == runs_before + 1
        assert (run.k, run.segment, run.status) == (k, {"active_days": days}, "done")


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(external_id=st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t and "/" not in t))
def test_any_user_id_in_the_batch_url_is_a_clean_answer(tenant, external_id):
    keyed, _ = api_key_client(tenant, scopes=("read",))
    from urllib.parse import quote

    response = keyed.get(f"{API}users/{quote(external_id, safe='')}/batch/")
    assert response.status_code in (404, 400), response.content


def test_settings_out_of_range_are_check_errors(settings):
    settings.LLMREC = {**settings.LLMREC, "BATCH": {"K": 0, "CHUNK_SIZE": "5", "FOLDER": "../up", "STORAGE": "nope"}}
    assert [e.id for e in check_batch()] == ["llmrec.E026"] * 4
