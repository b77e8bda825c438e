"""Acting on off-hours: sleep policies sent to the agents, wake for maintenance through
per-subnet wake proxies, and the savings measured against a baseline (docs/policy.md)."""
