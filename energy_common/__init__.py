"""What the agent and the collector share: the report schema (the contract between them), the
configuration machinery (typed options, YAML loading, secrets, the docs' tables), TLS settings
and the Wake-on-LAN packet. Needs nothing beyond the agent's own dependencies (pyyaml)."""
