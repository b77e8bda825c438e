"""LoRaWAN network servers over MQTT (ChirpStack v4 and v3, The Things Stack v3): meter
uplinks become energy, gateway stats become network metrics and the network's footprint."""
