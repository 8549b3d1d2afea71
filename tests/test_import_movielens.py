"""The MovieLens importer on tiny files in each of its formats."""

import pytest
from django.core.management import CommandError, call_command

from llmrec_django.importing.movielens import detect, title_year
from llmrec_django.models import Interaction, Item, Relation

pytestmark = pytest.mark.django_db


def test_title_year():
    assert title_year("Toy Story (1995)") == 1995
    assert title_year("Babylon 5 (1994-1998)") == 1994
    assert title_year("No year") is None


def test_latest_small_csv(tmp_path, tenant):
    (tmp_path / "movies.csv").write_bytes(
        b"movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children\r\n"
        b'2,"American President, The (1995)",Comedy|Drama|Romance\r\n3,Untitled (2001),(no genres listed)\r\n'
    )
    (tmp_path / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.5,964981247\r\n2,1,5.0,964982224\r\n"
    )
    (tmp_path / "tags.csv").write_bytes(b"userId,movieId,tag,timestamp\r\n1,1,pixar,1\r\n2,1,Pixar,2\r\n2,1,fun,3\r\n")
    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    toy = Item.objects.get(tenant=tenant, external_id="1")
    assert toy.title == "Toy Story (1995)" and toy.attributes == {"year": 1995}
    assert toy.description == "Tags: pixar, fun."
    assert Item.objects.get(external_id="2").title == "American President, The (1995)"
    genres = set(Relation.objects.filter(head_item=toy).values_list("tail_entity__name", flat=True))
    assert genres == {"Adventure", "Animation", "Children"}
    assert not Relation.objects.filter(head_item__external_id="3").exists()
    assert Interaction.objects.count() == 3
    assert Interaction.objects.get(event_id="ml:1:2:964981247").value == 3.5

    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    assert Interaction.objects.count() == 3, "idempotent"


def test_ml_100k(tmp_path, tenant):
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n", encoding="latin-1")
    (tmp_path / "u.item").write_text(
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|0\n",
        encoding="latin-1",
    )
    (tmp_path / "u.data").write_text("196\t1\t3\t881250949\n186\t2\t5\t891717742\n", encoding="latin-1")
    assert detect(tmp_path).layout == "100k"
    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    assert set(Relation.objects.values_list("head_item__external_id", "tail_entity__name")) == {
        ("1", "Comedy"),
        ("2", "Action"),
    }
    assert Interaction.objects.get(event_id="ml:186:2:891717742").value == 5


def test_ml_1m_dat_latin1(tmp_path, tenant):
    (tmp_path / "movies.dat").write_bytes("1::Amélie (2001)::Comedy|Romance\n".encode("latin-1"))
    (tmp_path / "ratings.dat").write_bytes(b"1::1::5::978300760\n2::1::4::978302109\n")
    call_command("llmrec_import_movielens", str(tmp_path), limit_events=1, verbosity=0)
    assert Item.objects.get().title == "Amélie (2001)"
    assert Interaction.objects.count() == 1


def test_not_a_movielens_directory(tmp_path, tenant):
    with pytest.raises(CommandError, match="no MovieLens"):
        call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
