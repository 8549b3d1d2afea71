"""The bulk importers: good rows land, bad rows are reported with file and line, re-runs are harmless."""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from llmrec_django.catalogue.importing import import_files
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


def test_json_lines_for_every_kind(tmp_path, tenant):
    files = {
        "items": jsonl(
            tmp_path,
            "items.ndjson",
            [
                {"external_id": 1, "title": "Lamp", "attributes": {"watts": 40}, "is_active": False},
                {"external_id": "2", "title": "Desk", "image_url": "https://img.example/desk.jpg"},
            ],
        ),
        "users": jsonl(tmp_path, "users.jsonl", [{"external_id": "ann", "profile": "Likes warm light"}]),
        "relations": jsonl(
            tmp_path,
            "kg.jsonl",
            [{"head_type": "item", "head_id": "1", "relation": "goes_with", "tail_type": "item", "tail_id": 2}],
        ),
        "events": jsonl(
            tmp_path,
            "events.jsonl",
            [{"event_id": "e", "user_id": "ann", "item_id": "1", "event_type": "add_to_cart", "value": 2}],
        ),
    }
    reports = import_files(files, tenant)
    assert [(r.kind, r.created, r.bad) for r in reports] == [
        ("items", 2, 0),
        ("users", 1, 0),
        ("relations", 1, 0),
        ("events", 1, 0),
    ]
    lamp = Item.objects.get(external_id="1")
    assert lamp.attributes == {"watts": 40} and lamp.is_active is False
    assert Item.objects.get(external_id="2").image_url == "https://img.example/desk.jpg"
    assert Relation.objects.get().tail_item.title == "Desk"
    assert Interaction.objects.get().value == 2.0


def test_report_counts_and_item_ids(tmp_path, tenant):
    items = write(tmp_path, "items.csv", ITEMS_CSV + "sku-1,Trail Blazer 2,Grippy trail shoe,running shoes,{}\n")
    [report] = import_files({"items": items}, tenant)
    assert (report.rows_read, report.created, report.duplicates, report.bad) == (4, 3, 1, 0)
    assert Item.objects.get(external_id="sku-1").title == "Trail Blazer 2", "the last row of a repeated id wins"
    assert sorted(report.created_ids) == sorted(Item.objects.values_list("pk", flat=True))
    assert report.changed_ids == []
    assert "4 read, 3 created" in report.summary() and "rows/s" in report.summary()


def test_unchanged_items_are_not_reported_and_flags_do_not_count_as_text(tmp_path, tenant):
    import_files({"items": write(tmp_path, "items.csv", ITEMS_CSV)}, tenant)
    flags = write(tmp_path, "flags.jsonl", "")
    flags.write_text(
        json.dumps(
            {
                "external_id": "sku-1",
                "title": "Trail Blazer",
                "description": "Grippy trail shoe",
                "category": "running shoes",
                "attributes": {"price": 89, "brand": "Kestrel"},
                "is_active": "no",
            }
        )
        + "\n"
    )
    [report] = import_files({"items": flags}, tenant)
    assert (report.updated, report.changed_ids) == (1, []), "same text (key order aside): nothing to re-embed"
    trail = Item.objects.get(external_id="sku-1")
    assert trail.is_active is False
    [again] = import_files({"items": write(tmp_path, "items2.csv", ITEMS_CSV)}, tenant)
    assert (again.updated, again.unchanged) == (0, 3)
    assert Item.objects.get(external_id="sku-1").is_active is False, "a file without is_active keeps the flag"


def test_changed_and_new_items_are_handed_over_for_embedding(tmp_path, tenant, monkeypatch):
    from llmrec_django.catalogue import signals

    calls = []
    monkeypatch.setattr(signals, "items_changed", lambda tenant_id, ids: calls.append((tenant_id, sorted(ids))))
    monkeypatch.setattr(signals, "users_changed", lambda tenant_id, ids: calls.append(("users", sorted(ids))))
    import_files({"items": write(tmp_path, "items.csv", ITEMS_CSV)}, tenant)
    assert calls == [(tenant.pk, sorted(Item.objects.values_list("pk", flat=True)))]
    calls.clear()
    import_files({"items": write(tmp_path, "items2.csv", ITEMS_CSV.replace("Grippy", "Sticky"))}, tenant)
    assert calls == [(tenant.pk, [Item.objects.get(external_id="sku-1").pk])]
    calls.clear()
    import_files({"events": write(tmp_path, "events.csv", EVENTS_CSV)}, tenant)
    assert calls == [("users", sorted(UserProfile.objects.values_list("pk", flat=True)))]


def test_users_profiles_update_and_absent_profile_keeps_text(tmp_path, tenant):
    users = write(tmp_path, "users.csv", "external_id,profile\nann,Hikes\nbob,\n")
    [report] = import_files({"users": users}, tenant)
    assert report.created == 2
    [report] = import_files({"users": write(tmp_path, "u2.csv", "external_id,profile\nann,Hikes and climbs\n")}, tenant)
    assert (report.updated, report.created) == (1, 0)
    [report] = import_files({"users": write(tmp_path, "u3.csv", "external_id\nann\ncarl\n")}, tenant)
    assert (report.unchanged, report.created) == (1, 1)
    assert UserProfile.objects.get(external_id="ann").profile_text == "Hikes and climbs"


def test_imported_texts_are_the_sites_and_never_replace_the_users_own(tmp_path, tenant):
    import_files({"users": write(tmp_path, "users.csv", "external_id,profile\nann,Hikes\nbob,\ncleo,Tea\n")}, tenant)
    sources = dict(UserProfile.objects.values_list("external_id", "profile_text_source"))
    assert sources == {"ann": "site", "bob": "generated", "cleo": "site"}
    UserProfile.objects.filter(external_id="ann").update(profile_text="Climbs", profile_text_source="user")
    again = write(tmp_path, "u2.csv", "external_id,profile\nann,Hikes daily\nbob,Reads\ncleo,\n")
    [report] = import_files({"users": again}, tenant)
    assert (report.updated, report.unchanged) == (2, 1)
    stored = {p.external_id: (p.profile_text, p.profile_text_source) for p in UserProfile.objects.all()}
    assert stored == {"ann": ("Climbs", "user"), "bob": ("Reads", "site"), "cleo": ("", "generated")}


def test_relations_to_entities_items_and_users(tmp_path, tenant, other_tenant):
    import_files({"items": write(tmp_path, "items.csv", ITEMS_CSV)}, tenant)
    kg = write(
        tmp_path,
        "kg.csv",
        "head_type,head_id,relation,tail_type,tail_id,weight\n"
        "item,sku-1,has_brand,brand,Kestrel,\n"
        "Item,sku-2,has_brand,brand,Kestrel,2.5\n"
        "user,zoe,bought,item,sku-1,1\n"
        "brand,Kestrel,made_in,country,Portugal,1\n"
        "item,sku-404,has_brand,brand,Kestrel,1\n"
        "item,sku-1,has_brand,brand,Kestrel,inf\n",
    )
    [report] = import_files({"relations": kg}, tenant, batch_size=2)
    assert (report.created, report.bad, report.users_created, report.entities_created) == (4, 2, 1, 2)
    assert [(b.line, b.message) for b in report.bad_rows] == [
        (6, "unknown head item 'sku-404' in this tenant"),
        (7, "weight must be a finite number, found 'inf'"),
    ]
    kestrel = Entity.objects.get(tenant=tenant, entity_type="brand", name="Kestrel")
    assert Relation.objects.get(head_item__external_id="sku-2").weight == 2.5
    assert Relation.objects.get(head_item__external_id="sku-1", relation="has_brand").weight == 1.0
    assert Relation.objects.get(relation="made_in").head_entity == kestrel
    assert Relation.objects.get(relation="bought").head_user.external_id == "zoe"

    changed = write(
        tmp_path,
        "kg2.csv",
        "head_type,head_id,relation,tail_type,tail_id,weight\nitem,sku-2,has_brand,brand,Kestrel,3\n",
    )
    [report] = import_files({"relations": changed}, tenant)
    assert (report.created, report.updated) == (0, 1)
    assert Relation.objects.get(head_item__external_id="sku-2").weight == 3.0

    [report] = import_files({"relations": kg}, other_tenant)
    assert report.bad == 5, "tenant B has none of tenant A's items"
    assert Relation.objects.get(tenant=other_tenant).head_entity.tenant == other_tenant


def test_repeated_event_ids_across_batches_and_runs(tmp_path, tenant):
    import_files({"items": write(tmp_path, "items.csv", ITEMS_CSV)}, tenant)
    events = write(
        tmp_path,
        "events.csv",
        "event_id,user_id,item_id,event_type\n"
        "a,u1,sku-1,view\nb,u1,sku-2,view\na,u2,sku-3,click\nc,u3,sku-3,click\na,u1,sku-1,view\n",
    )
    [report] = import_files({"events": events}, tenant, batch_size=2)
    # Event ids are unique per user: u2's "a" is another event than u1's "a"; u1's second "a" is a repeat.
    assert (report.created, report.duplicates, report.users_created) == (4, 1, 3)
    first = Interaction.objects.get(event_id="a", user__external_id="u1")
    assert first.item.external_id == "sku-1", "the first occurrence is kept"
    [report] = import_files({"events": events}, tenant, batch_size=2)
    assert (report.created, report.duplicates) == (0, 5)
    assert Interaction.objects.count() == 4


def test_more_bad_rows(tmp_path, tenant):
    long_title = "x" * 501
    items = write(
        tmp_path,
        "items.csv",
        "external_id,title,description,category,attributes\n"
        f"ok,Fine,,,\nlong,{long_title},,,\nnul,Has \x00 nul,,,\nbroken,Bad json,,,{{oops\n"
        "short,row\n"
        'url,Bad url,,,"{""a"": 1}"\n',
    )
    [report] = import_files({"items": items}, tenant)
    assert report.created == 2
    messages = {b.line: b.message for b in report.bad_rows}
    assert messages[3] == "title is longer than 500 characters (501)"
    assert messages[4] == "title contains a NUL character"
    assert messages[5].startswith("attributes: invalid JSON")
    assert messages[6] == "expected 5 fields, found 2"
    events = jsonl(
        tmp_path,
        "events.jsonl",
        [
            {"event_id": "1", "user_id": "u", "item_id": "ok", "event_type": "view", "context": ["not", "object"]},
            {"event_id": "2", "user_id": "u", "item_id": "ok", "event_type": "view", "timestamp": 1e20},
            {"event_id": "3", "user_id": "u", "item_id": "ok", "event_type": "view", "value": True},
            {"user_id": "u", "item_id": "ok", "event_type": "view"},
            {"event_id": "5", "user_id": "u", "item_id": "ok", "event_type": "view", "device": "d" * 65},
        ],
    )
    with events.open("a") as handle:
        handle.write('{"event_id": "6", "value": NaN}\n[1, 2]\n')
    [report] = import_files({"events": events}, tenant)
    assert report.created == 0 and report.bad == 7
    messages = [b.message for b in report.bad_rows]
    assert messages[0] == "context must be a JSON object, found list"
    assert messages[1].startswith("timestamp: Unix time out of range")
    assert messages[2] == "value: expected a number, found a boolean"
    assert messages[3] == "event_id is required"
    assert messages[4] == "device is longer than 64 characters (65)"
    assert messages[5].startswith("invalid JSON")
    assert messages[6] == "expected a JSON object, found list"


def test_file_level_errors(tmp_path, tenant):
    from llmrec_django.catalogue.importing import ImportFileError

    with pytest.raises(ImportFileError, match="cannot tell the format"):
        import_files({"items": write(tmp_path, "items.txt", ITEMS_CSV)}, tenant)
    with pytest.raises(ImportFileError, match="empty"):
        import_files({"items": write(tmp_path, "empty.csv", "")}, tenant)
    with pytest.raises(ImportFileError, match="no such file"):
        import_files({"items": tmp_path / "missing.csv"}, tenant)
    with pytest.raises(CommandError, match="at least one"):
        call_command("llmrec_import", verbosity=0)
    [report] = import_files({"items": write(tmp_path, "extra.csv", "external_id,title,colour\na,A,red\n")}, tenant)
    assert report.notes == ["ignored unknown columns: colour"]


def test_gzipped_csv_and_progress_callback(tmp_path, tenant):
    path = tmp_path / "items.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write(ITEMS_CSV)
    ticks = []

    import contextlib

    @contextlib.contextmanager
    def progress(label):
        yield ticks.append

    [report] = import_files({"items": path}, tenant, batch_size=2, progress_factory=progress)
    assert report.created == 3 and ticks == [2, 1]


def test_command_prints_a_summary(tmp_path, tenant):
    from io import StringIO

    out = StringIO()
    call_command("llmrec_import", items=str(write(tmp_path, "items.csv", ITEMS_CSV)), stdout=out, no_progress=True)
    assert "items.csv (items): 3 read, 3 created" in out.getvalue()
