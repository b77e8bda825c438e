"""The meter spine: registers (resets, wraps, glitches: never negative energy), their store in
the ledger (`meters`, `meter_state`, `meter_hours`, `server_hours`) and the accounting of one
transaction's readings, shared by every meter source (SNMP, LoRaWAN, CSV readings)."""
