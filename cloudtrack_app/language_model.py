"""The OpenAI-compatible endpoint CloudTrack talks to, for alert texts and page readings.

One place builds the client, so both uses share the settings' base URL, key and timeout
and neither retries on its own (each caller decides what a failure means).
"""

from __future__ import annotations

from openai import AsyncOpenAI

from cloudtrack_app.settings import Settings


def model_client(settings: Settings) -> AsyncOpenAI:
    """A client for the configured endpoint; close it after use."""
    return AsyncOpenAI(
        base_url=settings.openai_base_url or None,
        api_key=settings.openai_api_key or "not-needed",
        max_retries=0,
        timeout=settings.ai_timeout,
    )
