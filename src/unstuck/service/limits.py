"""Limits that come from settings, written into the OpenAPI schema so that it tells the truth.

A value bounded by a setting (``delay`` by ``UNSTUCK_MAX_DELAY_S``, ``n`` by
``UNSTUCK_COMPUTE_MAX_N``) cannot carry the bound in its annotation, which is
fixed at import. It carries the setting's name instead (`maximum_from`), and
`document` turns that into the JSON Schema ``maximum`` of the running app's
settings when the schema is built. The routes still check the value themselves.
"""

from __future__ import annotations

from typing import Any

from unstuck.service.settings import Settings

_SETTING_KEY = "x-unstuck-maximum-setting"


def maximum_from(setting: str) -> dict[str, Any]:
    """``json_schema_extra`` for a value whose maximum is the setting named `setting`."""
    if setting not in Settings.model_fields:
        raise ValueError(f"no setting named {setting!r}")
    return {_SETTING_KEY: setting}


def document(node: Any, settings: Settings) -> None:
    """Replace every `maximum_from` mark under `node` (an OpenAPI schema) by its maximum."""
    if isinstance(node, dict):
        setting = node.pop(_SETTING_KEY, None)
        if isinstance(setting, str):
            node["maximum"] = getattr(settings, setting)
        for child in node.values():
            document(child, settings)
    elif isinstance(node, list):
        for child in node:
            document(child, settings)
