"""Dead-letter redaction of any JSON shape (streams/redaction.py; issue 29, finding 5), under the
settings of the review: `email` and `contact.email` hashed, `phone` dropped, customer ids hashed."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journey.config import PrivacySettings
from journey.streams.privacy import PSEUDONYM, Protection

EMAIL, PHONE, CUSTOMER = "alice.secret001@example.com", "+1 555 0100", "pii-cust-020"
PERSONAL = {"email": EMAIL, "phone": PHONE, "customer_id": CUSTOMER}
P = Protection.from_settings(
    PrivacySettings(
        hash_properties=["email", "contact.email"],
        drop_properties=["phone"],
        hash_customer_id=True,
        hmac_keys={"k1": "k1-secret-0123456789"},
        current_key="k1",
    )
)


def leaks(value: bytes, key: bytes | None) -> list[str]:
    return [v for v in PERSONAL.values() if v.encode() in value + (key or b"")]


def test_a_list_of_objects_in_properties_keeps_no_email_or_phone() -> None:
    event = {"customer_id": CUSTOMER, "channel": "web", "touchpoint": "x.y",
             "properties": [{"email": EMAIL, "phone": PHONE, "contact": {"email": EMAIL}}] * 20}  # fmt: skip
    value, key, redacted = P.redact_record(orjson.dumps(event), CUSTOMER.encode())
    assert redacted and leaks(value, key) == []
    kept = orjson.loads(value)
    assert PSEUDONYM.match(kept["properties"][0]["email"]) and "phone" not in kept["properties"][0]
    assert kept["channel"] == "web" and key == P.pseudonym(CUSTOMER).encode()


def test_an_unknown_top_level_field_is_dropped() -> None:
    value, _, redacted = P.redact_record(orjson.dumps({"anonymous_id": "a-1", "ssn": "078-05-1120"}), b"a-1")
    assert redacted and orjson.loads(value) == {"anonymous_id": "a-1"}


def test_a_malformed_erasure_request_keeps_no_customer_id() -> None:
    request = {"subject": "customer", "id": CUSTOMER, "request_id": "r-1", "customer_id": CUSTOMER, "index": 7}
    value, key, redacted = P.redact_record(orjson.dumps(request), CUSTOMER.encode())
    assert redacted and leaks(value, key) == []
    assert orjson.loads(value)["id"] == P.pseudonym(CUSTOMER) and orjson.loads(value)["request_id"] == "r-1"


def test_deep_and_large_records_are_redacted_without_recursion() -> None:
    deep = b'{"properties":' + (b'[{"email":"' + EMAIL.encode() + b'","a":') * 10_000 + b"1" + b"}]" * 10_000 + b"}"
    value, _, redacted = P.redact_record(deep, b"k")  # beyond what orjson parses: dropped
    assert redacted and leaks(value, None) == []
    within = b'[{"phone":"' + PHONE.encode() + b'","next":'  # 800 levels, within what orjson parses:
    inner = b'{"email":"' + EMAIL.encode() + b'"}'  # walked; what lies deeper than MAX_DEPTH dropped
    value, _, redacted = P.redact_record(b'{"properties":' + within * 400 + inner + b"}]" * 400 + b"}", b"k")
    assert redacted and leaks(value, None) == []
    big = orjson.dumps({"customer_id": CUSTOMER, "properties": [{"email": EMAIL, "n": i} for i in range(21_000)]})
    assert len(big) > 1_000_000
    value, _, redacted = P.redact_record(big, None)
    assert redacted and leaks(value, None) == []


# -- the property: any nested shape ---------------------------------------------------------------
NAMES = st.sampled_from(["a", "b", "contact", "items", "properties", "id", "x-y", "anonymous_ids", "source"])
SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8)
)


def _personal(children: st.SearchStrategy) -> st.SearchStrategy:
    """A dict that may hold personal entries (its value, or a shape holding it) among others."""
    entry = st.sampled_from(sorted(PERSONAL)).flatmap(
        lambda name: st.tuples(
            st.just(name),
            st.just(PERSONAL[name])
            | st.lists(st.just(PERSONAL[name]), max_size=2)
            | st.fixed_dictionaries({"v": st.just(PERSONAL[name])}),
        )
    )
    return st.lists(st.tuples(NAMES, children) | entry, max_size=5).map(dict)


TREES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4) | _personal(children), max_leaves=40)
RECORDS = st.one_of(
    TREES,
    st.lists(TREES, max_size=3),
    st.fixed_dictionaries({"customer_id": st.just(CUSTOMER), "channel": TREES, "properties": TREES, "ssn": TREES}),
    st.fixed_dictionaries({"subject": TREES, "id": st.just(CUSTOMER), "request_id": TREES, "anonymous_ids": TREES}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(RECORDS, st.sampled_from([None, CUSTOMER.encode(), b"a-1"]))
def test_no_configured_personal_value_survives_any_shape(record: Any, key: bytes | None) -> None:
    value, kept_key, _ = P.redact_record(orjson.dumps(record), key)
    assert leaks(value, kept_key) == []


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=200) | st.builds(orjson.dumps, TREES), st.none() | st.binary(max_size=20))
def test_redaction_never_raises(value: bytes, key: bytes | None) -> None:
    P.redact_record(value, key)
