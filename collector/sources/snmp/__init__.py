"""SNMP devices (PDUs, UPSes, network gear): polled with pysnmp asyncio, read through
data-driven profiles (profiles/*.yaml), registers turned into energy like every meter."""
