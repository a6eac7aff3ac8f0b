"""meterui: a terminal UI and decoder for the customer port of electricity smart meters."""

__version__ = "0.1.0"
