"""The inventory: what the city owns, since when, and what making it cost (docs/inventory.md).

Readers (glpi.py, glpi_v2.py, agentfiles.py, csvfile.py) turn each source into `Asset`s;
sync.py stores them in the ledger (store.py); matching.py pairs assets with reporting agents;
factors.py and figures.py give embodied CO2e and lifetimes; summary.py puts them together for
the CLI, the yearly report, the web view and /metrics.
"""
