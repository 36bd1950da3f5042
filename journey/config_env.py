"""The `JOURNEY_*` environment variables a settings model reads, and a check of the environment
against them: pydantic-settings ignores a variable it does not know, so a typo
(`JOURNEY_KAFKA_BOOTSTRAP_SERVERS`, one underscore) would silently leave the default in place."""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Mapping

from pydantic import BaseModel

from journey.sdk_settings import ENV_NESTED_DELIMITER, ENV_PREFIX, ConfigError

# Read by something other than the settings model: the config file's name, test knobs, the examples' schema.
OTHER_VARIABLES = frozenset(
    {f"{ENV_PREFIX}{name}" for name in ("CONFIG", "FUZZ_EXAMPLES", "PROPERTY_EXAMPLES", "SCHEMA_FILE")}
)
COMPLEX_ORIGINS = (dict, list, tuple, set, frozenset)


def _model_of(annotation: object) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_complex(annotation: object) -> bool:
    """Whether pydantic-settings reads the variable as JSON (as it does for models and collections)."""
    return any(typing.get_origin(a) in COMPLEX_ORIGINS or a in COMPLEX_ORIGINS or _model_of(a)
               for a in (annotation, *typing.get_args(annotation)))  # fmt: skip


def variables(model: type[BaseModel], prefix: str = ENV_PREFIX) -> dict[str, tuple[str, bool]]:
    """Every variable that sets a field of `model`: name -> (dotted setting, read as JSON).
    A section has its own variable (JSON) as well as one per field."""
    found: dict[str, tuple[str, bool]] = {}
    dotted_prefix = prefix.removeprefix(ENV_PREFIX).replace(ENV_NESTED_DELIMITER, ".").lower()
    for name, field in model.model_fields.items():
        variable, dotted = f"{prefix}{name.upper()}", f"{dotted_prefix}{name}"
        found[variable] = (dotted, _is_complex(field.annotation))
        section = _model_of(field.annotation)
        if section is not None and typing.get_origin(field.annotation) is not dict:
            found.update(variables(section, variable + ENV_NESTED_DELIMITER))
    return found


def check_environment(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Raise ConfigError naming every unknown `JOURNEY_*` variable (with the nearest valid name)
    and every JSON-valued one that is not JSON; pydantic-settings would ignore the first and
    fail without naming the variable on the second."""
    known = variables(model)
    problems = []
    for name, value in sorted(environ.items()):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in OTHER_VARIABLES:
            continue
        entry = known.get(upper)
        if entry is None:
            # below a dict setting (JOURNEY_FRICTION__FLOWS__QUOTE__START) any key is the user's own
            if any(upper.startswith(k + ENV_NESTED_DELIMITER) and c for k, (_, c) in known.items()):
                continue
            nearest = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
            hint = f"; did you mean {nearest[0]}?" if nearest else " (`journey config show` lists all settings)"
            problems.append(f"  - {name}: not a setting{hint}")
        elif entry[1]:
            try:
                json.loads(value)
            except ValueError as error:
                problems.append(f"  - {name} ({entry[0]}): not valid JSON ({error}); this setting takes a JSON value")
    if problems:
        raise ConfigError("\n".join([f"invalid environment ({len(problems)} problem(s)):", *problems]))
