"""System checks turn misconfiguration into clear errors with ids."""

from types import SimpleNamespace

import pytest
from django.core.checks import run_checks

from llmrec_django.api import checks as api_checks
from llmrec_django.conf import checks as conf_checks
from llmrec_django.database import checks as database_checks


def ids(messages):
    return [m.id for m in messages]


def test_the_default_configuration_is_clean():
    assert not [m for m in run_checks(tags=["llmrec"]) if m.is_serious()]


def test_unknown_setting_is_reported(settings):
    settings.LLMREC = {**settings.LLMREC, "DEFAULT_KK": 5}
    assert ids(conf_checks.check_settings_keys()) == ["llmrec.E010"]


def test_bad_reliability_settings_are_reported(settings):
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": 0, "OUTBOX_RESEND_SECONDS": "10"}
    errors = conf_checks.check_reliability_settings()
    assert ids(errors) == ["llmrec.E014", "llmrec.E014"]
    assert "TASK_MAX_DELIVERIES" in errors[0].msg and "OUTBOX_RESEND_SECONDS" in errors[1].msg
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": None, "OUTBOX_RESEND_SECONDS": 30}
    assert conf_checks.check_reliability_settings() == []
    settings.LLMREC = {**settings.LLMREC, "REFRESH_COALESCE_USERS": -1, "REFRESH_DELAY_SECONDS": "2"}
    assert ids(conf_checks.check_reliability_settings()) == ["llmrec.E014", "llmrec.E014"]


def test_a_refresh_delay_near_the_visibility_timeout_is_reported(settings, monkeypatch):
    monkeypatch.setattr(conf_checks, "_broker_url", lambda: "redis://127.0.0.1:6379/0")
    monkeypatch.setattr(
        conf_checks, "_celery_conf", lambda: SimpleNamespace(broker_transport_options={"visibility_timeout": 3})
    )
    settings.LLMREC = {**settings.LLMREC, "REFRESH_DELAY_SECONDS": 2}
    [error] = conf_checks.check_reliability_settings()
    assert error.id == "llmrec.E014" and "visibility" in error.msg
    settings.LLMREC = {**settings.LLMREC, "REFRESH_DELAY_SECONDS": 1}
    assert conf_checks.check_reliability_settings() == []
    monkeypatch.setattr(conf_checks, "_celery_conf", lambda: SimpleNamespace(broker_transport_options={}))
    settings.LLMREC = {**settings.LLMREC, "REFRESH_DELAY_SECONDS": 2}
    assert conf_checks.check_reliability_settings() == []  # Redis's default: an hour
    monkeypatch.setattr(conf_checks, "_broker_url", lambda: "amqp://guest@127.0.0.1//")
    settings.LLMREC = {**settings.LLMREC, "REFRESH_DELAY_SECONDS": 3600}
    assert conf_checks.check_reliability_settings() == []  # RabbitMQ has no visibility timeout


def test_a_bad_api_key_cache_is_reported(settings):
    for bad in (-1, 301, "10", True):
        settings.LLMREC = {**settings.LLMREC, "API_KEY_CACHE_SECONDS": bad}
        assert ids(conf_checks.check_api_key_cache()) == ["llmrec.E015"], bad
    for good in (0, 2.5, 300):
        settings.LLMREC = {**settings.LLMREC, "API_KEY_CACHE_SECONDS": good}
        assert conf_checks.check_api_key_cache() == []


def test_a_bad_reranker_weight_is_reported(settings):
    training = settings.LLMREC.get("TRAINING", {})
    for bad in (-0.1, 1.5, "0.5", None, True):
        settings.LLMREC = {**settings.LLMREC, "TRAINING": {**training, "RERANKER": {"weight": bad}}}
        assert ids(conf_checks.check_reranker_weight()) == ["llmrec.E016"], bad
    for good in (0, 0.5, 1):
        settings.LLMREC = {**settings.LLMREC, "TRAINING": {**training, "RERANKER": {"weight": good}}}
        assert conf_checks.check_reranker_weight() == []


def test_a_bad_number_of_held_out_items_is_reported(settings):
    training = settings.LLMREC.get("TRAINING", {})
    for bad in (0, -1, 1.5, "2", None, True):
        settings.LLMREC = {**settings.LLMREC, "TRAINING": {**training, "HELD_OUT_ITEMS": bad}}
        assert ids(conf_checks.check_held_out_items()) == ["llmrec.E017"], bad
    for good in (1, 5):
        settings.LLMREC = {**settings.LLMREC, "TRAINING": {**training, "HELD_OUT_ITEMS": good}}
        assert conf_checks.check_held_out_items() == []


def test_missing_model_path_is_a_warning(settings, tmp_path):
    settings.LLMREC = {**settings.LLMREC, "ENCODER": {"OPTIONS": {"path": str(tmp_path / "nothing-here")}}}
    [warning] = conf_checks.check_encoder()
    assert warning.id == "llmrec.W009" and "nothing-here" in warning.msg and not warning.is_serious()


def test_wrong_dimension(settings, tiny_encoder_dir):
    settings.LLMREC = {
        **settings.LLMREC,
        "ENCODER": {"OPTIONS": {"path": str(tiny_encoder_dir)}},
        "EMBEDDING_DIMENSION": 384,
    }
    [error] = conf_checks.check_encoder()
    assert error.id == "llmrec.E002" and "384" in error.msg


def test_backend_that_does_not_import(settings):
    settings.LLMREC = {**settings.LLMREC, "ENCODER": {"BACKEND": "nowhere.Encoder"}}
    assert ids(conf_checks.check_encoder()) == ["llmrec.E006"]


def test_unreachable_broker(settings, monkeypatch):
    from celery import current_app

    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setitem(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    [warning] = conf_checks.check_broker()
    assert warning.id == "llmrec.W010" and "127.0.0.1:1" in warning.msg and not warning.is_serious()


def test_eager_mode_needs_no_broker():
    assert conf_checks.check_broker() == []


@pytest.mark.django_db
def test_database_with_pgvector_is_clean():
    assert database_checks.check_database(databases=["default"]) == []


@pytest.mark.django_db
def test_missing_pgvector_is_an_error(monkeypatch):
    """A server without pgvector (the fake cursor answers 'not installed, not available')."""
    from django.db import connections

    class NoVector:
        def __init__(self, cursor):
            self.cursor = cursor
            self.last = None

        def execute(self, sql, params=None):
            self.last = sql

        def fetchone(self):
            return None

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    connection = connections["default"]
    monkeypatch.setattr(connection, "cursor", lambda: NoVector(None))
    [error] = database_checks.check_database(databases=["default"])
    assert error.id == "llmrec.E001" and "pgvector" in error.msg


@pytest.mark.django_db
def test_active_version_of_another_dimension_warns(tenant):
    from llmrec_django.models import EmbeddingVersion

    EmbeddingVersion.objects.create(tenant=tenant, model_name="m", model_path="/m", dimension=768, status="active")
    assert ids(database_checks.check_database(databases=["default"])) == ["llmrec.W001"]


# --- the REST API and deployment ----------------------------------------------------------------


def test_the_api_opens_only_its_public_endpoints_to_anonymous_callers():
    assert api_checks.check_api_permissions() == []


@pytest.mark.parametrize("permission_classes", [[], "AllowAny"])
def test_an_api_view_open_to_anyone_is_an_error(monkeypatch, permission_classes):
    from rest_framework.permissions import AllowAny

    from llmrec_django.api import user_views

    classes = [AllowAny] if permission_classes == "AllowAny" else permission_classes
    monkeypatch.setattr(user_views.UserView, "permission_classes", classes)
    [error] = api_checks.check_api_permissions()
    assert error.id == "llmrec.E012" and "'user'" in error.msg and "GET, DELETE" in error.msg


def test_public_catalogue_reads_are_allowed_only_by_the_allowlist(monkeypatch):
    """Items are readable by anyone (IsTrustedOrReadOnly): without the reads in the view's
    ``public_methods`` the reads, and only the reads, are reported."""
    from llmrec_django.api import views

    monkeypatch.setattr(views.ItemDetailView, "public_methods", frozenset())
    [error] = api_checks.check_api_permissions()
    assert error.id == "llmrec.E012" and "'item'" in error.msg and "anonymous callers GET:" in error.msg


def test_a_throttle_rate_that_cannot_be_parsed_is_an_error(settings):
    assert api_checks.check_api_throttle_rates() == []
    settings.LLMREC = {**settings.LLMREC, "API_THROTTLE_RATES": {"user": "600/fortnight"}}
    [error] = api_checks.check_api_throttle_rates()
    assert error.id == "llmrec.E013" and "UserThrottle" in error.msg and "600/fortnight" in error.msg


def test_a_throttle_without_a_rate_warns_for_deployment(settings):
    assert api_checks.check_api_throttles_configured() == []
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"llmrec_anon": None}}
    [warning] = api_checks.check_api_throttles_configured()
    assert warning.id == "llmrec.W003" and "AnonThrottle" in warning.msg


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", ["llmrec.W004"]),
        ("django.core.cache.backends.dummy.DummyCache", ["llmrec.W004"]),
        ("django.core.cache.backends.redis.RedisCache", []),
    ],
)
def test_throttle_counters_need_a_shared_cache(settings, backend, expected):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/15"}}
    assert ids(api_checks.check_throttle_cache()) == expected


def test_debug_warns_for_deployment(settings):
    settings.DEBUG = False
    assert conf_checks.check_debug() == []
    settings.DEBUG = True
    assert ids(conf_checks.check_debug()) == ["llmrec.W005"]


def test_eager_celery_warns_for_deployment(monkeypatch):
    from celery import current_app

    assert ids(conf_checks.check_celery_not_eager()) == ["llmrec.W006"]  # the test settings run tasks eagerly
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    assert conf_checks.check_celery_not_eager() == []


def test_deploy_checks_run_only_with_deploy():
    from django.core.checks import run_checks

    deploy_ids = {"llmrec.W003", "llmrec.W004", "llmrec.W005", "llmrec.W006"}
    assert not deploy_ids & set(ids(run_checks(tags=["llmrec"])))
    assert {"llmrec.W004", "llmrec.W006"} <= set(ids(run_checks(tags=["llmrec"], include_deployment_checks=True)))


def test_trusted_proxies_must_be_none_or_a_small_whole_number(settings):
    for good in (None, 0, 2):
        settings.LLMREC = {"TRUSTED_PROXIES": good}
        assert conf_checks.check_trusted_proxies() == [], good
    for bad in (-1, 11, 1.5, "1", True):
        settings.LLMREC = {"TRUSTED_PROXIES": bad}
        assert ids(conf_checks.check_trusted_proxies()) == ["llmrec.E018"], bad


def test_a_site_without_the_unstorable_input_middleware_is_warned_at_deploy(settings):
    assert conf_checks.check_unstorable_input_middleware() == []  # the example site has it
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("UnstorableInputMiddleware")]
    assert ids(conf_checks.check_unstorable_input_middleware()) == ["llmrec.W007"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"SEQUENTIAL": {"OPTIONS": {"layer": 2}}}, "llmrec.E019"),
        ({"SEQUENTIAL": {"OPTIONS": {"dimension": 10, "heads": 3}}}, "llmrec.E019"),
        ({"SEQUENTIAL": {"BUDGET_SECONDS": 0}}, "llmrec.E019"),
        ({"TRANSITIONS": {"WINDOW": 0}}, "llmrec.E020"),
        ({"TRANSITIONS": {"RECENT_DECAY": 1.5}}, "llmrec.E020"),
        ({"TRANSITIONS": {"SHRINK": "5"}}, "llmrec.E020"),
        ({"TUNING": {"ALS": {"factor": [32]}}}, "llmrec.E021"),
        ({"TUNING": {"ALS": {"alpha": 5}}}, "llmrec.E021"),
        ({"TUNING": {"ITEM_KNN_NEIGHBOURS": [0]}}, "llmrec.E021"),
        ({"TUNING": {"BUDGET_SECONDS": -1}}, "llmrec.E021"),
    ],
)
def test_sequence_and_tuning_settings_are_checked(settings, override, expected):
    assert conf_checks.check_sequence_settings() == []
    settings.LLMREC = {**settings.LLMREC, **override}
    assert ids(conf_checks.check_sequence_settings()) == [expected]


@pytest.mark.parametrize(
    "override",
    [
        {"REFIT_MIN_NEW_INTERACTIONS": 0},
        {"REFIT_MIN_NEW_INTERACTIONS": "200"},
        {"SCHEDULE": {"refit_ranking": "every hour"}},
        {"SCHEDULE": {"retrain": "15 27 * * *"}},
        {"SCHEDULE": {"drain_outbox": -10}},
        {"SCHEDULE": {"refit": "30 * * * *"}},
    ],
)
def test_learning_loop_settings_are_checked(settings, override):
    assert conf_checks.check_learning_loop() == []
    settings.LLMREC = {**settings.LLMREC, "LEARNING_LOOP": override}
    assert ids(conf_checks.check_learning_loop()) == ["llmrec.E022"]


def test_a_loop_entry_set_to_none_is_not_scheduled_and_not_an_error(settings):
    settings.LLMREC = {**settings.LLMREC, "LEARNING_LOOP": {"SCHEDULE": {"retrain": None}}}
    assert conf_checks.check_learning_loop() == []
