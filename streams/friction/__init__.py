"""Friction detectors: one module per detector, each pure. `detectors.py` composes them.

Every detector sees a journey's events as `Observation`s in event-time order, once the journey's
watermark has passed them (streams/journey.py buffers them for `grace`), so what it detects does
not depend on arrival order within grace nor on batch boundaries.
"""
