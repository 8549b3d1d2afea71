"""The MovieLens importer on tiny files in each of its layouts (ml-latest CSV, ml-100k, ml-1m)."""

import pytest
from django.core.management import CommandError, call_command

from llmrec_django.catalogue.importing.movielens import ML_100K, ML_CSV, ML_DAT, detect, movie_year
from llmrec_django.models import Entity, Interaction, Item, Relation, UserProfile

pytestmark = pytest.mark.django_db


def genres_of(item):
    return set(
        Relation.objects.filter(head_item=item, relation="has_genre").values_list("tail_entity__name", flat=True)
    )


def test_movie_year():
    assert movie_year("Toy Story (1995)") == 1995
    assert movie_year("Babylon 5 (1994-1998)") == 1994
    assert movie_year("Hamlet (2000) ") == 2000
    assert movie_year("No year") is None
    assert movie_year("2001: A Space Odyssey") is None


def test_latest_small_csv_with_tags(tmp_path, tenant):
    # CRLF line ends and a quoted title with a comma, as in the real files.
    (tmp_path / "movies.csv").write_bytes(
        b"movieId,title,genres\r\n"
        b"1,Toy Story (1995),Adventure|Animation|Children\r\n"
        b'2,"American President, The (1995)",Comedy|Drama|Romance\r\n'
        b"3,Untitled,(no genres listed)\r\n"
    )
    (tmp_path / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.5,964981247\r\n2,1,5.0,964982224\r\n"
    )
    (tmp_path / "tags.csv").write_bytes(b"userId,movieId,tag,timestamp\r\n1,1,pixar,1\r\n2,1,fun,2\r\n3,1,Pixar,3\r\n")
    assert detect(tmp_path).layout == ML_CSV
    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)

    toy = Item.objects.get(tenant=tenant, external_id="1")
    assert toy.title == "Toy Story (1995)" and toy.category == "movie"
    assert toy.attributes == {"year": 1995}
    assert toy.description == "Tags: pixar, fun."  # most used tag first
    assert toy.content_hash == toy.compute_content_hash()
    assert Item.objects.get(external_id="2").title == "American President, The (1995)"
    assert genres_of(toy) == {"Adventure", "Animation", "Children"}
    untitled = Item.objects.get(external_id="3")
    assert untitled.attributes == {} and untitled.description == ""
    assert not genres_of(untitled), "(no genres listed) is not a genre"
    assert Entity.objects.filter(entity_type="genre").count() == 6

    rating = Interaction.objects.get(event_id="ml:1:2:964981247")
    assert rating.event_type == "rating" and rating.value == 3.5
    assert rating.timestamp.timestamp() == 964981247
    assert set(UserProfile.objects.values_list("external_id", flat=True)) == {"1", "2"}

    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    assert (Interaction.objects.count(), Item.objects.count(), Relation.objects.count()) == (3, 3, 6), "idempotent"


def test_ml_100k(tmp_path, tenant):
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n", encoding="latin-1")
    (tmp_path / "u.item").write_text(
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
        "2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|0\n"
        "3|Café Society|01-Jan-1996||http://z|1|0|0\n",
        encoding="latin-1",
    )
    (tmp_path / "u.data").write_text("196\t1\t3\t881250949\n186\t2\t5\t891717742\n", encoding="latin-1")
    (tmp_path / "u.user").write_text("196|24|M|technician|85711\n", encoding="latin-1")
    assert detect(tmp_path).layout == ML_100K
    call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)

    assert set(Relation.objects.values_list("head_item__external_id", "tail_entity__name")) == {
        ("1", "Comedy"),
        ("2", "Action"),
    }, "the 'unknown' flag is not a genre"
    cafe = Item.objects.get(external_id="3")
    assert cafe.title == "Café Society", "u.item is Latin-1"
    assert cafe.attributes == {"year": 1996}, "year from the release date when the title has none"
    assert Interaction.objects.get(event_id="ml:186:2:891717742").value == 5
    assert UserProfile.objects.get(external_id="196").profile_text == "Age 24, male, occupation: technician."


def test_ml_1m_dat_latin1_with_users_and_limit(tmp_path, tenant):
    (tmp_path / "movies.dat").write_bytes(
        "1::Amélie (2001)::Comedy|Romance\n2::Heat (1995)::Action\n".encode("latin-1")
    )
    (tmp_path / "ratings.dat").write_bytes(b"1::1::5::978300760\n2::1::4::978302109\n2::2::3::978302110\n")
    (tmp_path / "users.dat").write_bytes(b"1::F::25::20::48067\n")
    assert detect(tmp_path).layout == ML_DAT
    call_command("llmrec_import_movielens", str(tmp_path), limit_events=2, verbosity=0)

    amelie = Item.objects.get(external_id="1")
    assert amelie.title == "Amélie (2001)"
    assert amelie.attributes == {"year": 2001}
    assert genres_of(amelie) == {"Comedy", "Romance"}
    assert Interaction.objects.count() == 2, "--limit-events"
    assert UserProfile.objects.get(external_id="1").profile_text == "Age 25-34, female, occupation: writer."


def test_ratings_of_unknown_movies_are_bad_rows(tmp_path, tenant, capsys):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n1,99,4,2\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    assert "ratings.csv:3: unknown item '99'" in capsys.readouterr().err
    assert Interaction.objects.count() == 1


def test_not_a_movielens_directory(tmp_path, tenant):
    with pytest.raises(CommandError, match="no MovieLens"):
        call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)


def test_wrong_ratings_header(tmp_path, tenant):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action\n")
    (tmp_path / "ratings.csv").write_text("user,movie,stars\n1,1,4\n")
    with pytest.raises(CommandError, match="missing required columns"):
        call_command("llmrec_import_movielens", str(tmp_path), verbosity=0)
    assert not Item.objects.exists()
