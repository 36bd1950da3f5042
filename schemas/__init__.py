"""Contracts: the touchpoint event model, its JSON Schema, the stage catalog, ClickHouse DDL."""

from journey.schemas.stages import Stage, StageCatalog
from journey.schemas.touchpoint import Channel, InvalidTouchpoint, Touchpoint, parse_touchpoint, validate_touchpoint

__all__ = [
    "Channel",
    "InvalidTouchpoint",
    "Stage",
    "StageCatalog",
    "Touchpoint",
    "parse_touchpoint",
    "validate_touchpoint",
]
