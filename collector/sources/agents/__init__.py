"""Agent reports (MQTT shared subscription and HTTP POST) → RecordBatch."""
