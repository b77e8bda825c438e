"""Energy agent: reports a machine's power states (active, idle, suspended, off)."""

__version__ = "0.1.0"
