"""Virtual devices for tests and for practising without hardware (``meterui simulate …``)."""
