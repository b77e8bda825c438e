"""Sources: each turns what it receives into `records.RecordBatch`es (one folder each)."""
