"""What every use case may read besides its connection and its caller: the settings, the clock, the
taxonomies and the key secret. Built once per process (the app's lifespan, or the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.clock import Clock
from marketplace.settings import Settings
from marketplace.taxonomy.models import Taxonomy


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    clock: Clock
    taxonomy: Taxonomy
    secret: bytes
    """The HMAC key API keys are stored under."""
