"""The LLMREC settings object: defaults, merging, reload on override, LLMREC_HOME."""

import pytest

from llmrec_django.conf import DEFAULTS, llmrec_settings


def test_defaults_fill_in_missing_keys():
    assert llmrec_settings.DEFAULT_K == DEFAULTS["DEFAULT_K"]


def test_nested_dicts_merge_with_defaults(settings):
    settings.LLMREC = {"ENCODER": {"OPTIONS": {"max_length": 64}}, "EVENT_WEIGHTS": {"wishlist": 1.2}}
    encoder = llmrec_settings.ENCODER
    assert encoder["BACKEND"] == DEFAULTS["ENCODER"]["BACKEND"]
    assert encoder["OPTIONS"]["max_length"] == 64
    assert encoder["OPTIONS"]["batch_size"] == DEFAULTS["ENCODER"]["OPTIONS"]["batch_size"]
    assert llmrec_settings.EVENT_WEIGHTS["wishlist"] == 1.2
    assert llmrec_settings.EVENT_WEIGHTS["purchase"] == DEFAULTS["EVENT_WEIGHTS"]["purchase"]


def test_override_settings_is_seen(settings):
    settings.LLMREC = {"DEFAULT_K": 3}
    assert llmrec_settings.DEFAULT_K == 3
    settings.LLMREC = {"DEFAULT_K": 7}
    assert llmrec_settings.DEFAULT_K == 7


def test_unknown_key_is_an_attribute_error():
    with pytest.raises(AttributeError, match="Invalid LLMREC setting"):
        getattr(llmrec_settings, "NOT_A_SETTING")  # noqa: B009


def test_llmrec_home_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path / "instance-b"))
    assert llmrec_settings.home == (tmp_path / "instance-b").resolve()
