"""Deterministic, realistic data for every part of Beacon: ``beacon generate``.

Same seed and as-of date → byte-identical files and the same operational DB content.
"""

from beacon.generate.config import DEFAULT_AS_OF, SCALES, GenerateConfig
from beacon.generate.pipeline import AlreadyGenerated, generate

__all__ = ["DEFAULT_AS_OF", "SCALES", "AlreadyGenerated", "GenerateConfig", "generate"]
