"""A tenant's vocabulary in the admin: checked before it is saved, the learned schema shown."""

import json

import pytest
from django.urls import reverse

from llmrec_django.core.attribute_schema import vocabulary_problems
from llmrec_django.models import Tenant
from tests.recommend_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("vocabulary", "problem"),
    [
        ([], "must be an object"),
        ({"colours": {}}, "Unknown part 'colours'"),
        ({"values": {"horror": "scary"}}, "values must map each name to a list of words"),
        ({"attributes": {"rating": {"ages": {"PG": "eight"}}}}, "must map values to ages"),
        ({"attributes": {"rating": {"order": []}}}, "unknown keys ['order']"),
    ],
)
def test_a_malformed_vocabulary_is_refused_with_a_reason(vocabulary, problem):
    assert any(problem in p for p in vocabulary_problems(vocabulary))


def test_the_admin_checks_the_vocabulary_and_shows_what_requests_can_ask_about(admin_client, tenant):
    make_item(tenant, "f1", "Film", genre="comedy", year=2020)
    make_item(tenant, "f2", "Film 2", genre="horror", year=2024)
    url = reverse("admin:llmrec_django_tenant_change", args=[tenant.pk])
    form = {"slug": tenant.slug, "name": tenant.name, "vocabulary": json.dumps({"values": {"horror": "scary"}})}
    refused = admin_client.post(url, form)
    assert refused.status_code == 200 and "values must map each name to a list of words" in refused.content.decode()
    form["vocabulary"] = json.dumps({"values": {"horror": ["scary", "恐怖片"]}})
    assert admin_client.post(url, form).status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).vocabulary == {"values": {"horror": ["scary", "恐怖片"]}}
    page = admin_client.get(url).content.decode()
    assert "<td>genre</td><td>enum</td>" in page and "<td>year</td><td>number</td><td>2020 .. 2024</td>" in page
