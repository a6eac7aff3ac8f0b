"""What will be saved, in one or two lines for the last step: never a key, password or ID."""

from __future__ import annotations

from rich.text import Text

from meterui.config import Config
from meterui.presets import get_preset


def summary_text(cfg: Config) -> Text:
    """``Saving: port · line · meter · keys · scaling · zone · MQTT`` with every secret masked."""
    from meterui.export.url import mask_url

    preset = get_preset(cfg.preset)
    parts: list[tuple[str, str]] = [(cfg.port or "no port", "bold"), (cfg.describe_serial(), "")]
    if preset is not None:
        parts.append((preset.label, ""))
    if preset is not None and preset.session == "broute":
        missing = [name for name, value in (("ID", cfg.broute_id), ("password", cfg.broute_password)) if not value]
        parts.append((f"B-route {' and '.join(missing)} missing" if missing else "B-route ID and password set", ""))
    else:
        keys = [name for name, value in (("key", cfg.key), ("auth key", cfg.auth_key)) if value]
        parts.append((" + ".join(keys) + " set" if keys else "no keys", ""))
        parts.append((f"scaling {cfg.scale}" if cfg.scale else "no scaling override", ""))
    parts.append((f"time zone {cfg.timezone}", ""))
    parts.append((f"MQTT {mask_url(cfg.mqtt_url)}" if cfg.mqtt_url else "no MQTT", ""))
    text = Text("Saving: ", "dim")
    for i, (part, style) in enumerate(parts):
        if i:
            text.append(" · ", "dim")
        text.append(part, style)
    return text
