"""The bulk importers: good rows land, bad rows are reported with file and line, re-runs are harmless."""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from llmrec_django.importing import import_files
from llmrec_django.models import Entity, Interaction, Item, Relation, Tenant, UserProfile

pytestmark = pytest.mark.django_db

ITEMS_CSV = """external_id,title,description,category,attributes
sku-1,Trail Blazer,Grippy trail shoe,running shoes,"{""brand"": ""Kestrel"", ""price"": 89}"
sku-2,Road Flyer,Light road shoe,running shoes,{}
sku-3,星际归途,一部温暖的科幻电影,films,
"""

EVENTS_CSV = """event_id,user_id,item_id,event_type,value,timestamp
e1,alice,sku-1,purchase,89,2026-10-01T10:00:00Z
e2,alice,sku-2,view,,1790000000
e3,bob,sku-3,rating,4.5,2026-10-02T08:30:00
e1,alice,sku-1,purchase,89,2026-10-01T10:00:00Z
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(tmp_path, name, rows):
    return write(tmp_path, name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_items_users_relations_and_events_from_csv(tmp_path, tenant):
    files = {
        "items": write(tmp_path, "items.csv", ITEMS_CSV),
        "users": write(tmp_path, "users.csv", "external_id,profile\nalice,Runs trails on weekends\n"),
        "relations": write(
            tmp_path,
            "kg.csv",
            "head_type,head_id,relation,tail_type,tail_id,weight\n"
            "item,sku-1,has_brand,brand,Kestrel,1\n"
            "user,alice,follows,brand,Kestrel,0.5\n"
            "item,sku-1,similar_to,item,sku-2,0.8\n",
        ),
        "events": write(tmp_path, "events.csv", EVENTS_CSV),
    }
    call_command("llmrec_import", **{k: str(v) for k, v in files.items()}, verbosity=0)

    trail = Item.objects.get(tenant=tenant, external_id="sku-1")
    assert trail.attributes == {"brand": "Kestrel", "price": 89}
    assert trail.content_hash == trail.compute_content_hash()
    assert Item.objects.get(external_id="sku-3").title == "星际归途"
    assert UserProfile.objects.get(external_id="alice").profile_text == "Runs trails on weekends"
    assert UserProfile.objects.filter(external_id="bob").exists(), "users seen only in events are created"
    assert Interaction.objects.count() == 3, "the repeated event id e1 is stored once"
    rating = Interaction.objects.get(event_id="e3")
    assert rating.value == 4.5 and rating.timestamp.isoformat() == "2026-10-02T08:30:00+00:00"
    assert Interaction.objects.get(event_id="e2").timestamp.timestamp() == 1790000000
    kestrel = Entity.objects.get(entity_type="brand", name="Kestrel")
    assert Relation.objects.filter(head_item=trail, relation="has_brand", tail_entity=kestrel).exists()
    assert Relation.objects.get(relation="follows").weight == 0.5
    assert Relation.objects.get(relation="similar_to").tail_item.external_id == "sku-2"


def test_json_lines_and_gzip(tmp_path, tenant):
    items = jsonl(tmp_path, "items.jsonl", [{"external_id": "a", "title": "A", "attributes": {"color": "red"}}])
    events_path = tmp_path / "events.jsonl.gz"
    with gzip.open(events_path, "wt", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                {
                    "event_id": "x",
                    "user_id": "u",
                    "item_id": "a",
                    "event_type": "like",
                    "timestamp": "2026-01-01T00:00:00+01:00",
                    "context": {"device": "mobile"},
                }
            )
            + "\n"
        )
    import_files({"items": items, "events": events_path}, tenant)
    event = Interaction.objects.get()
    assert event.context == {"device": "mobile"}
    assert event.timestamp.isoformat() == "2025-12-31T23:00:00+00:00"


def test_running_twice_changes_nothing(tmp_path, tenant):
    files = {"items": write(tmp_path, "items.csv", ITEMS_CSV), "events": write(tmp_path, "events.csv", EVENTS_CSV)}
    first = import_files(files, tenant)
    second = import_files(files, tenant)
    assert [r.created for r in first] == [3, 3]
    assert [r.created for r in second] == [0, 0]
    assert second[0].unchanged == 3
    assert Item.objects.count() == 3 and Interaction.objects.count() == 3


def test_changed_items_are_reported_for_reembedding(tmp_path, tenant):
    import_files({"items": write(tmp_path, "items.csv", ITEMS_CSV)}, tenant)
    changed = ITEMS_CSV.replace("Light road shoe", "Featherweight road racer")
    [report] = import_files({"items": write(tmp_path, "items2.csv", changed)}, tenant)
    road = Item.objects.get(external_id="sku-2")
    assert report.changed_ids == [road.pk]
    assert road.description == "Featherweight road racer"
    assert road.content_hash == road.compute_content_hash()


def test_bad_rows_are_reported_with_file_and_line_and_good_rows_kept(tmp_path, tenant, capsys):
    items = write(tmp_path, "items.csv", ITEMS_CSV + 'sku-4,Bad attrs,,shoes,"[1, 2]"\n,No id,,shoes,{}\n')
    events = write(
        tmp_path,
        "events.csv",
        "event_id,user_id,item_id,event_type,value,timestamp\n"
        "ok1,alice,sku-1,click,,2026-10-01T10:00:00Z\n"
        "b1,alice,nope,click,,2026-10-01T10:00:00Z\n"
        "b2,alice,sku-1,teleport,,2026-10-01T10:00:00Z\n"
        "b3,alice,sku-1,rating,NaN,2026-10-01T10:00:00Z\n"
        "b4,alice,sku-1,click,,yesterday-ish\n"
        "ok2,bob,sku-2,view,,1790000000\n",
    )
    with pytest.raises(CommandError, match="6 bad rows"):
        call_command("llmrec_import", items=str(items), events=str(events), verbosity=0)
    err = capsys.readouterr().err
    for where in ["items.csv:5", "items.csv:6", "events.csv:3", "events.csv:4", "events.csv:5", "events.csv:6"]:
        assert where in err, err
    assert "nope" in err and "teleport" in err
    assert set(Interaction.objects.values_list("event_id", flat=True)) == {"ok1", "ok2"}
    assert Item.objects.count() == 3

    call_command("llmrec_import", events=str(events), allow_errors=True, verbosity=0)  # exit 0 when allowed


def test_a_missing_column_writes_nothing(tmp_path, tenant):
    items = write(tmp_path, "items.csv", ITEMS_CSV)
    events = write(tmp_path, "events.csv", "event_id,user_id,event_type\ne1,alice,click\n")
    with pytest.raises(CommandError, match="item_id"):
        call_command("llmrec_import", items=str(items), events=str(events), verbosity=0)
    assert not Item.objects.exists(), "headers are checked before anything is written"


def test_tenants_are_separate(tmp_path, tenant):
    items = write(tmp_path, "items.csv", ITEMS_CSV)
    call_command("llmrec_import", items=str(items), verbosity=0)
    call_command("llmrec_import", items=str(items), tenant="shop-b", create_tenant=True, verbosity=0)
    shop_b = Tenant.objects.get(slug="shop-b")
    assert Item.objects.for_tenant(shop_b).count() == 3 and Item.objects.for_tenant(tenant).count() == 3
    events = write(tmp_path, "events.csv", "event_id,user_id,item_id,event_type\ne1,u,sku-1,click\n")
    call_command("llmrec_import", events=str(events), tenant="shop-b", verbosity=0)
    assert Interaction.objects.get().item.tenant == shop_b
    with pytest.raises(CommandError, match="create-tenant"):
        call_command("llmrec_import", items=str(items), tenant="nowhere", verbosity=0)


def test_events_cannot_reference_another_tenants_item(tmp_path, tenant):
    call_command("llmrec_import", items=str(write(tmp_path, "items.csv", ITEMS_CSV)), verbosity=0)
    Tenant.objects.create(slug="empty")
    events = write(tmp_path, "events.csv", "event_id,user_id,item_id,event_type\ne1,u,sku-1,click\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("llmrec_import", events=str(events), tenant="empty", verbosity=0)
    assert not Interaction.objects.exists()
