"""An experiment arm may name only the copy generators the site allows: the configured one, the
template and those listed in ``LLMREC["COPY"]["EXPERIMENT_GENERATORS"]``; any other dotted path
typed into an arm is refused before it is imported, in the admin and when a list is served."""

import os
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from llmrec_django.admin.experiments import ArmForm
from llmrec_django.conf import backends
from llmrec_django.conf import checks as conf_checks
from llmrec_django.copywriting import TemplateCopyGenerator
from llmrec_django.database import caches
from llmrec_django.models import Experiment, ExperimentArm, UserProfile
from tests.recommend_helpers import activate
from tests.site.test_pages import render, shop  # noqa: F401 - the fixture

PLANTED = "tests.copywriting.planted_generator.Generator"
TEMPLATE = "llmrec_django.copywriting.TemplateCopyGenerator"


@pytest.fixture(autouse=True)
def nothing_planted(monkeypatch):
    monkeypatch.delenv("LLMREC_PLANTED_GENERATOR_IMPORTED", raising=False)
    sys.modules.pop("tests.copywriting.planted_generator", None)
    yield
    assert "tests.copywriting.planted_generator" not in sys.modules
    assert "LLMREC_PLANTED_GENERATOR_IMPORTED" not in os.environ


def with_copy(settings, **copy):
    settings.LLMREC = {**settings.LLMREC, "COPY": {**settings.LLMREC.get("COPY", {}), **copy}}


def test_a_path_the_site_did_not_allow_is_refused_before_it_is_imported(settings):
    with pytest.raises(ImproperlyConfigured, match="EXPERIMENT_GENERATORS"):
        backends.get_copy_generator(PLANTED)
    with pytest.raises(ImproperlyConfigured):
        backends.get_copy_generator("os.system")


def test_the_template_the_configured_generator_and_listed_ones_are_allowed(settings):
    assert isinstance(backends.get_copy_generator(TEMPLATE), TemplateCopyGenerator)
    with_copy(settings, BACKEND=TEMPLATE, OPTIONS={"attributes_per_item": 1})
    configured = backends.get_copy_generator()
    assert backends.get_copy_generator(TEMPLATE) is configured and configured.attributes_per_item == 1
    with_copy(
        settings,
        BACKEND="llmrec_django.copywriting.OpenAICompatibleCopyGenerator",
        OPTIONS={"base_url": "http://127.0.0.1:9/v1", "model": "m"},
        EXPERIMENT_GENERATORS={TEMPLATE: {"attributes_per_item": 0}},
    )
    assert backends.get_copy_generator(TEMPLATE).attributes_per_item == 0  # built with the listed options


def test_the_admin_refuses_an_arm_naming_a_generator_the_site_did_not_allow(tenant):
    experiment = Experiment.objects.create(tenant=tenant, name="copy-test")
    refused = ArmForm(
        data={"name": "b", "traffic": 1, "strategy": f'{{"copy_generator": "{PLANTED}"}}'},
        instance=ExperimentArm(experiment=experiment),
    )
    assert not refused.is_valid()
    assert "EXPERIMENT_GENERATORS" in refused.errors["strategy"][0]
    allowed = ArmForm(
        data={"name": "a", "traffic": 1, "strategy": f'{{"copy_generator": "{TEMPLATE}"}}'},
        instance=ExperimentArm(experiment=experiment),
    )
    assert allowed.is_valid(), allowed.errors


def test_an_arm_stored_with_a_refused_generator_gets_the_configured_copy(shop, tenant, caplog):  # noqa: F811
    items, ann, profile = shop
    activate(tenant, list(items.values()), users=[(UserProfile.objects.get(external_id="ann"), [1, 0, 0, 0])])
    experiment = Experiment.objects.create(tenant=tenant, name="planted", is_active=True)
    ExperimentArm.objects.create(experiment=experiment, name="only", traffic=1, strategy={"copy_generator": PLANTED})
    caches.clear_all()
    html = render("{% llmrec_recommendations k=2 with_copy=True %}", user=ann)
    assert 'class="llmrec-copy"' in html and "555" not in html
    assert "Experiment copy generator refused" in caplog.text


def test_the_check_reports_a_malformed_list_of_experiment_generators(settings):
    with_copy(settings, EXPERIMENT_GENERATORS=["not", "a", "dict"])
    assert [e.id for e in conf_checks.check_copy_generator()] == ["llmrec.E011"]
    with_copy(settings, EXPERIMENT_GENERATORS={TEMPLATE: {}})
    assert conf_checks.check_copy_generator() == []
