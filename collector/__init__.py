"""Energy collector: turns agent reports, SNMP and LoRaWAN readings into kWh and CO2e."""

__version__ = "0.1.0"
