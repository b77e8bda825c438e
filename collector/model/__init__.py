"""The energy and CO2e model: pure arithmetic on plain data (profiles, carbon, attribution)."""
