"""Exporters: publish decoded readings to other systems (MQTT, Home Assistant, Domoticz). UI-free."""
