"""Sinks: where accounted figures go besides the ledger (time series)."""
