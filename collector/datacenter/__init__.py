"""Datacenter indicators. `facility.py` is the interface facility meters feed (LoRaWAN now,
SNMP meters and CSV utility bills with the datacenter issue)."""
