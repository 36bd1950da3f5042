"""Which changes of the touchpoint JSON Schema break publishers of the same `schema_version`.

The contract is strict (`additionalProperties: false`), so a change is compatible only when every
event valid before stays valid: a property may be added (optional), an enum may gain values, a
constraint may loosen. Breaking: a property removed (its senders are rejected), a property newly
required, an enum value removed, a property's type or format changed, a length or range
narrowed. A breaking change needs a new `schema_version` (CHANGELOG.md). Pure: two parsed
schemas in, the breaking changes out, each named.
"""

from __future__ import annotations

from typing import Any

NARROWING = {"maxLength": min, "maximum": min, "maxItems": min, "maxProperties": min,
             "minLength": max, "minimum": max, "minItems": max}  # fmt: skip


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in sorted(set(old_props) - set(new_props)):
        problems.append(f"property {name!r} removed")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"property {name!r} newly required")
    if _alternatives(old.get("anyOf")) - _alternatives(new.get("anyOf")):  # an alternative dropped
        problems.append("the top-level alternatives (anyOf) changed: some event valid before may not be now")
    for name in sorted(set(old_props) & set(new_props)):
        problems.extend(
            f"property {name!r}: {p}" for p in _narrowed(_resolve(old, old_props[name]), _resolve(new, new_props[name]))
        )
    return problems


def _alternatives(any_of: list[dict[str, Any]] | None) -> set[tuple[str, ...]]:
    return {tuple(sorted(alternative.get("required", []))) for alternative in any_of or []}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`$ref`s into `$defs` replaced by their definitions (one level is all the contract uses)."""
    if "$ref" in node:
        return {**schema["$defs"][node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    if "anyOf" in node:
        return {**node, "anyOf": [_resolve(schema, option) for option in node["anyOf"]]}
    return node


def _types(node: dict[str, Any]) -> set[str]:
    if "anyOf" in node:
        return {t for option in node["anyOf"] for t in _types(option)}
    kind = node.get("type")
    return {kind} if isinstance(kind, str) else set(kind or [])


def _enum(node: dict[str, Any]) -> set[Any] | None:
    if "anyOf" in node:
        values = [_enum(option) for option in node["anyOf"] if option.get("type") != "null"]
        known = [v for v in values if v is not None]
        return set().union(*known) if known and len(known) == len(values) else None
    return None if "enum" not in node else set(node["enum"])


def _narrowed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems = []
    if not _types(old) <= _types(new):
        problems.append(f"type {sorted(_types(old))} became {sorted(_types(new))}")
    old_enum, new_enum = _enum(old), _enum(new)
    if new_enum is not None and (old_enum is None or old_enum - new_enum):
        problems.append(f"values no longer allowed: {sorted(map(str, (old_enum or {'any'}) - new_enum))}")
    if old.get("format") != new.get("format"):
        problems.append(f"format {old.get('format')!r} became {new.get('format')!r}")
    for keyword, tighter in NARROWING.items():
        if keyword in new and (keyword not in old or tighter(old[keyword], new[keyword]) != old[keyword]):
            problems.append(f"{keyword} {old.get(keyword, 'none')} became {new[keyword]}")
    if old.get("pattern") != new.get("pattern") and "pattern" in new:
        problems.append(f"pattern {old.get('pattern')!r} became {new['pattern']!r}")
    return problems
