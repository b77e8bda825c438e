"""What the LoRaWAN room shows on /metrics: messages, meters, gateways and devices
(`energy_lora_*`) and smart plugs' calibration."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class LoraMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.messages = Counter(
            "energy_lora_messages",
            "LoRaWAN messages by kind and result.",
            ["kind", "result"],
            registry=r,
        )
        self.rejected = Counter(
            "energy_lora_rejected",
            "LoRaWAN messages rejected or ignored, by reason.",
            ["reason"],
            registry=r,
        )
        self.meter_wh = Counter(
            "energy_lora_meter_wh",
            "Energy measured by LoRaWAN meters, watt-hours.",
            ["meter", "site", "role", "estimated"],
            registry=r,
        )
        self.meter_power = Gauge(
            "energy_lora_meter_watts",
            "Mean power between a meter's last two readings.",
            ["meter", "site", "role"],
            registry=r,
        )
        self.meter_events = Counter(
            "energy_lora_meter_events",
            "Register events: reset, wrap, glitch, gap, suspect, stale.",
            ["meter", "event"],
            registry=r,
        )
        self.gw_up = Gauge(
            "energy_lora_gateway_up",
            "1 when the gateway is connected and its stats are fresh.",
            ["gateway"],
            registry=r,
        )
        self.gw_packets = Counter(
            "energy_lora_gateway_packets",
            "Gateway packets, summed from the per-interval stats.",
            ["gateway", "direction", "status"],
            registry=r,
        )
        self.gw_freq = Counter(
            "energy_lora_gateway_rx_frequency_packets",
            "Received packets per frequency.",
            ["gateway", "frequency"],
            registry=r,
        )
        self.gw_sf = Counter(
            "energy_lora_gateway_rx_sf_packets",
            "Received packets per spreading factor.",
            ["gateway", "sf"],
            registry=r,
        )
        self.gw_rssi = Gauge(
            "energy_lora_gateway_rssi_dbm",
            "RSSI of the last uplink a gateway received.",
            ["gateway"],
            registry=r,
        )
        self.gw_snr = Gauge(
            "energy_lora_gateway_snr_db",
            "SNR of the last uplink a gateway received.",
            ["gateway"],
            registry=r,
        )
        self.gw_energy = Counter(
            "energy_lora_network_wh",
            "Energy of the LoRaWAN gateways (configured power × time reporting), watt-hours.",
            ["gateway"],
            registry=r,
        )
        self.uplinks = Counter(
            "energy_lora_uplinks", "Uplinks delivered (deduplicated).", ["network"], registry=r
        )
        self.last_seen = Gauge(
            "energy_lora_device_last_seen_timestamp_seconds",
            "Time of a device's last uplink.",
            ["dev_eui"],
            registry=r,
        )
        self.battery = Gauge(
            "energy_lora_device_battery_percent",
            "Battery level from status events.",
            ["dev_eui"],
            registry=r,
        )
        self.calibration = Gauge(
            "energy_plug_calibration_ratio",
            "Smart-plug energy over the modelled energy of the PC it measures (last 7 full days).",
            ["host", "meter"],
            registry=r,
        )
        self.unknown = Counter(
            "energy_lora_unknown_devices",
            "Uplinks from devices that are not meters (counted, logged once per device).",
            registry=r,
        )
