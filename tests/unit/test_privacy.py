"""Personal data hashed or dropped before stage 1 passes an event on (streams/privacy.py)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from journey.config import PrivacySettings
from journey.streams.privacy import PSEUDONYM, Protection
from tests.unit.builders import touchpoint

KEY = "k1-secret-0123456789"


def protection(**settings) -> Protection:
    defaults = {"hmac_keys": {"k1": KEY}, "current_key": "k1"}
    return Protection.from_settings(PrivacySettings(**(defaults | settings)))


def test_configured_paths_are_hashed_or_dropped_and_the_rest_kept() -> None:
    p = protection(hash_properties=["email", "contact.phone"], drop_properties=["ssn"])
    event = touchpoint(0, properties={"email": "ann@example.com", "contact": [{"phone": "+1 555 0100"}, {"x": 1}],
                                      "ssn": "078-05-1120", "plan": "pro"})  # fmt: skip
    properties = p.protect(event).properties
    assert PSEUDONYM.match(properties["email"]) and PSEUDONYM.match(properties["contact"][0]["phone"])
    assert "ssn" not in properties
    assert properties["contact"][1] == {"x": 1} and properties["plan"] == "pro"
    assert event.properties["email"] == "ann@example.com"  # the parsed event is not changed in place


def test_same_value_same_pseudonym_under_one_key_another_under_another() -> None:
    first, second = protection(), protection(hmac_keys={"k2": "another-secret-987654"}, current_key="k2")
    assert first.pseudonym("ann@example.com") == first.pseudonym("ann@example.com")
    assert first.pseudonym("ann@example.com") != first.pseudonym("bob@example.com")
    assert first.pseudonym("ann@example.com").startswith("hmac:k1:")
    assert second.pseudonym("ann@example.com").startswith("hmac:k2:")


def test_a_pseudonym_of_a_configured_key_is_not_hashed_again() -> None:
    rotated = protection(hmac_keys={"k1": KEY, "k2": "another-secret-987654"}, current_key="k2")
    old = protection().pseudonym("ann@example.com")
    assert rotated.pseudonym(old) == old  # a replayed dead letter keeps its value
    assert rotated.pseudonym("hmac:zz:" + "0" * 32) != "hmac:zz:" + "0" * 32  # not a key of ours: hashed


def test_customer_id_is_hashed_only_when_configured() -> None:
    event = touchpoint(0, customer="cust-1")
    assert protection(hash_properties=["email"]).protect(event).customer_id == "cust-1"
    hashed = protection(hash_customer_id=True).protect(event)
    assert hashed.customer_id == protection().pseudonym("cust-1") and hashed.partition_key == hashed.customer_id


def test_without_configuration_the_event_is_passed_as_it_is() -> None:
    event = touchpoint(0, properties={"email": "ann@example.com"})
    assert Protection.from_settings(PrivacySettings()).protect(event) is event


def test_a_rejected_record_is_redacted_when_it_parses_and_kept_when_not() -> None:
    p = protection(hash_properties=["email"], hash_customer_id=True)
    raw = orjson.dumps({"customer_id": "cust-1", "channel": "nowhere", "properties": {"email": "ann@example.com"}})
    value, key, redacted = p.redact_record(raw, b"cust-1")
    assert (
        redacted
        and b"ann@example.com" not in value
        and b"cust-1" not in value
        and key == p.pseudonym("cust-1").encode()
    )
    assert p.redact_record(b"\xff not json ann@example.com", b"k") == (b"\xff not json ann@example.com", b"k", False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hash_properties": ["email"]}, "current_key is not set"),
        ({"hmac_keys": {"k1": KEY}, "current_key": "k9"}, "'k9' is not among the configured keys"),
        ({"hmac_keys": {"k1": "short"}, "current_key": "k1"}, "shorter than 16"),
        ({"hash_properties": ["a..b"], "hmac_keys": {"k1": KEY}, "current_key": "k1"}, "not a dotted path"),
        ({"hmac_keys_file": "/nonexistent/keys"}, "cannot be read"),
    ],
)
def test_wrong_privacy_settings_are_refused_clearly(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrivacySettings(**settings)


def test_keys_come_from_a_secret_file_and_never_show(tmp_path) -> None:
    secrets = tmp_path / "keys"
    secrets.write_text("# rotated 2026-11\nk1=" + KEY + "\nk2=another-secret-987654\n")
    settings = PrivacySettings(hmac_keys_file=secrets, current_key="k2", hash_properties=["email"])
    assert settings.keys() == {"k1": KEY, "k2": "another-secret-987654"}
    inline = PrivacySettings(hmac_keys={"k1": KEY}, current_key="k1")
    assert KEY not in repr(inline) and KEY not in inline.model_dump_json()


def test_a_looked_up_customer_id_finds_its_hashed_journey() -> None:
    hashing, plain = protection(hash_customer_id=True), protection(hash_properties=["email"])
    assert hashing.journey_key_of("cust-1") == hashing.pseudonym("cust-1")
    assert hashing.journey_key_of(hashing.pseudonym("cust-1")) == hashing.pseudonym("cust-1")
    assert hashing.journey_key_of("anon:a-1") == "anon:a-1"
    assert plain.journey_key_of("cust-1") == "cust-1"
