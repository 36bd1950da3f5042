"""Personal data out of an event before stage 1 writes anything: configured property paths
hashed with a keyed HMAC or dropped, optionally the customer id hashed too. Pure.

A hashed value reads `hmac:<key id>:<32 hex digits>` (HMAC-SHA256, 128 bits): the same input
gives the same pseudonym under one key, so counts and joins still work, and the key id says
which key made it (rotation: docs/operations.md, "Security"). A value already in that form under
a configured key is left as it is, so a replayed or re-published event is not hashed twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from journey.config import PrivacySettings
from journey.schemas.touchpoint import Touchpoint
from journey.streams.identity import ANONYMOUS_KEY_PREFIX
from journey.streams.redaction import Redaction

TOO_DEEP = "depth limit exceeded"  # orjson's reason for JSON nested beyond 1,024 levels
PSEUDONYM = re.compile(r"^hmac:([A-Za-z0-9_-]{1,16}):[0-9a-f]{32}$")

Path = tuple[str, ...]


@dataclass(frozen=True)
class Protection:
    hash_paths: tuple[Path, ...]
    drop_paths: tuple[Path, ...]
    hash_customer_id: bool
    key_id: str | None
    key: bytes | None
    known_key_ids: frozenset[str]

    @classmethod
    def from_settings(cls, settings: PrivacySettings) -> Protection:
        keys = settings.keys()
        current = settings.current_key
        return cls(
            hash_paths=tuple(tuple(p.split(".")) for p in settings.hash_properties),
            drop_paths=tuple(tuple(p.split(".")) for p in settings.drop_properties),
            hash_customer_id=settings.hash_customer_id,
            key_id=current,
            key=None if current is None else keys[current].encode(),
            known_key_ids=frozenset(keys),
        )

    @property
    def active(self) -> bool:
        return bool(self.hash_paths or self.drop_paths or self.hash_customer_id)

    def pseudonym(self, value: Any) -> str:
        """The keyed hash of a value (of its JSON text when it is not a string)."""
        if self.key is None:
            raise ValueError("privacy: no current key to hash with")
        if isinstance(value, str) and self._already_hashed(value):
            return value
        text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        digest = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:32]
        return f"hmac:{self.key_id}:{digest}"

    def protect(self, event: Touchpoint) -> Touchpoint:
        """The event as stage 1 passes it on."""
        if not self.active:
            return event
        update: dict[str, Any] = {}
        properties = self.protect_properties(event.properties)
        if properties is not event.properties:
            update["properties"] = properties
        if self.hash_customer_id and event.customer_id is not None:
            update["customer_id"] = self.pseudonym(event.customer_id)
        return event.model_copy(update=update) if update else event

    def journey_key_of(self, key: str) -> str:
        """The journey key stored for a key someone looks up: a customer id is hashed when
        customer ids are (anonymous journeys, `anon:<id>`, and pseudonyms stay as they are)."""
        if not self.hash_customer_id or key.startswith(ANONYMOUS_KEY_PREFIX):
            return key
        return self.pseudonym(key)

    def protect_properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        """A copy with the configured paths hashed or dropped (the same dict when none is there)."""
        result = properties
        for path in self.drop_paths:
            result = _rewrite(result, path, None)
        for path in self.hash_paths:
            result = _rewrite(result, path, self.pseudonym)
        return result

    def redaction(self) -> Redaction:
        """Dead-letter redaction under these settings (streams/redaction.py): a configured path's
        last name hashed or dropped wherever it appears, as the path says."""
        return Redaction(
            hash_names=frozenset(path[-1] for path in self.hash_paths),
            drop_names=frozenset(path[-1] for path in self.drop_paths),
            hash_customer_id=self.hash_customer_id,
            pseudonym=self.pseudonym,
        )

    def redact_record(self, value: bytes, key: bytes | None) -> tuple[bytes, bytes | None, bool]:
        """(bytes, key, redacted) to keep in a rejected record's dead letter: when it parses as
        JSON, redacted whatever its shape; JSON nested deeper than can be parsed, dropped (no
        valid event is); otherwise as it came, for the dead-letter topic's shorter retention. When
        customer ids are hashed, so is the key, unless it is the record's own anonymous_id."""
        if not self.active:
            return value, key, False
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            if str(error).startswith(TOO_DEEP):
                return b"", self._redacted_key(key, set()), True
            return value, key, False
        redaction = self.redaction()
        redacted = redaction.redact(body)
        kept_key = self._redacted_key(key, redaction.anonymous_ids)
        if redacted == body:
            return value, kept_key, kept_key != key
        return orjson.dumps(redacted), kept_key, True

    def _redacted_key(self, key: bytes | None, anonymous_ids: set[str]) -> bytes | None:
        if key is None or not self.hash_customer_id:
            return key
        text = key.decode(errors="replace")
        return key if text in anonymous_ids or self._already_hashed(text) else self.pseudonym(text).encode()

    def _already_hashed(self, value: str) -> bool:
        match = PSEUDONYM.match(value)
        return match is not None and match.group(1) in self.known_key_ids


def _rewrite(node: Any, path: Path, replace: Callable[[Any], Any] | None) -> Any:
    """`node` with the value at `path` replaced (None: removed); lists on the way apply the rest
    of the path to each element. Unchanged branches are shared, changed ones copied."""
    if isinstance(node, list):
        items = [_rewrite(item, path, replace) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict) or path[0] not in node:
        return node
    head, rest = path[0], path[1:]
    copy = dict(node)
    if rest:
        child = _rewrite(node[head], rest, replace)
        if child is node[head]:
            return node
        copy[head] = child
    elif replace is None:
        del copy[head]
    elif node[head] is None:
        return node
    else:
        copy[head] = replace(node[head])
    return copy
