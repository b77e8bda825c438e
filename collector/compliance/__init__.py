"""Off-hours sleep compliance: calendars, per-host periods, rates, the morning report."""
