"""Dead-letter redaction: personal data out of a rejected record of any JSON shape. Pure.

A rejected record is malformed by definition, so nothing of its shape is trusted: `properties`
may be a list of objects, the record a list of events or an erasure request, fields unknown.
The privacy settings' intent, applied wherever it can apply:
- a key named like the last part of a configured property path (`email` for `contact.email`),
  at any depth of `properties` or of anything else that is walked, has its value hashed or is
  dropped, as the path says; `customer_id` anywhere is hashed when customer ids are;
- at the top, the fields of an event and of an erasure request are kept when they hold what
  they should (a scalar; a customer id, also an erasure request's `id`, hashed when customer ids
  are), `properties` and `anonymous_ids` are walked; any other field is dropped, name and value
  (the dead letter's errors name it): when in doubt, nothing is kept;
- a bare scalar at the top is dropped; a list at the top is a list of records.

Bounded: one pass over the parsed value with an explicit stack (no recursion, whatever the
nesting), and what lies deeper than `MAX_DEPTH` is dropped, a level that no valid event reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from journey.schemas.touchpoint import Touchpoint

# orjson writes at most 254 levels; a valid event is a few levels deep (schemas: properties ≤ 4)
MAX_DEPTH = 64
CUSTOMER_ID = "customer_id"
EVENT_FIELDS = frozenset(Touchpoint.model_fields) - {CUSTOMER_ID, "properties"}  # kept when scalars
ERASURE_FIELDS = frozenset({"subject", "request_id", "index"})
CUSTOMER_IDS = frozenset({CUSTOMER_ID, "id"})  # top-level fields holding a customer id (an erasure request's `id`)
WALKED = frozenset({"properties", "anonymous_ids"})
SCALARS = (str, int, float, bool, type(None))


@dataclass
class Redaction:
    hash_names: frozenset[str]
    drop_names: frozenset[str]
    hash_customer_id: bool
    pseudonym: Callable[[Any], str]
    anonymous_ids: set[str] = field(default_factory=set)  # the records' own: a key that may stay as it is

    def redact(self, body: Any) -> Any:
        """The redacted copy of a parsed record."""
        holder: list[Any] = [None]
        # (node, where its copy goes: container and slot, depth, whether it stands for a record)
        stack: list[tuple[Any, Any, Any, int, bool]] = [(body, holder, 0, 0, True)]
        while stack:
            node, parent, slot, depth, record = stack.pop()
            if depth >= MAX_DEPTH:
                parent[slot] = None
            elif record and isinstance(node, dict):
                parent[slot] = self._record(node, depth, stack)
            elif record and not (isinstance(node, list) and depth == 0):
                parent[slot] = None  # a bare value where a record should be: nothing to tell it by
            elif isinstance(node, list):
                parent[slot] = items = [None] * len(node)
                stack += [(item, items, i, depth + 1, record) for i, item in enumerate(node)]
            elif isinstance(node, dict):
                fields: dict[str, Any] = {}
                parent[slot] = fields
                for key, value in node.items():
                    self._entry(key, value, fields, depth, stack)
            else:
                parent[slot] = node
        return holder[0]

    def _record(self, node: dict, depth: int, stack: list) -> dict[str, Any]:
        """A record's known fields, by what they are; the rest dropped."""
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in CUSTOMER_IDS:
                out[key] = self._customer_id(value)
            elif key in WALKED:
                out[key] = None
                stack.append((value, out, key, depth + 1, False))
            elif key in EVENT_FIELDS or key in ERASURE_FIELDS:
                out[key] = value if isinstance(value, SCALARS) else None
                if key == "anonymous_id" and isinstance(value, str):
                    self.anonymous_ids.add(value)
        return out

    def _entry(self, key: str, value: Any, out: dict, depth: int, stack: list) -> None:
        if key in self.drop_names:
            return
        if key == CUSTOMER_ID and self.hash_customer_id:
            out[key] = self._customer_id(value)
        elif key in self.hash_names:
            out[key] = self._hashed(value)
        else:
            out[key] = None
            stack.append((value, out, key, depth + 1, False))

    def _customer_id(self, value: Any) -> Any:
        if not self.hash_customer_id:
            return value if isinstance(value, SCALARS) else None
        return self._hashed(value)

    def _hashed(self, value: Any) -> Any:
        """A value's pseudonym, as an accepted event's (a container: of its JSON text); dropped
        when it cannot be written as JSON (nested too deep for orjson)."""
        if value is None:
            return None
        try:
            return self.pseudonym(value)
        except (TypeError, orjson.JSONEncodeError):
            return None
