"""Carbon intensity: a static grid factor by default, an hourly series where one is loaded.

The static default is the French grid "mix moyen - consommation" factor from ADEME's Base
Empreinte v23 (0.052 kgCO2e/kWh, life cycle, consumption side); value and label are configuration
(`carbon.*`), and every CO2e figure is stored with the basis it used. The hourly series comes
from an RTE éCO2mix export (`taux_co2`, g/kWh): mind its narrower scope, direct emissions of
French *production* only (no imports, no upstream life cycle), so it is lower than the ADEME
factor and the two must not be mixed in one published total without saying so.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from energy_common.configspec import ConfigError

PARIS = ZoneInfo("Europe/Paris")


@dataclass
class CarbonModel:
    static_kg_per_kwh: float
    static_basis: str
    hourly: dict[int, float] = field(default_factory=dict)  # hour start (epoch s) -> kg/kWh
    hourly_basis: str = "rte-eco2mix:taux_co2"

    def kg(self, kwh: float, start: float, end: float) -> tuple[float, str]:
        """kgCO2e of `kwh` consumed evenly over [start, end], and the factor's basis."""
        if not self.hourly or end <= start:
            return kwh * self.static_kg_per_kwh, self.static_basis
        total = 0.0
        covered = 0.0
        hour = math.floor(start / 3600) * 3600
        while hour < end:
            a, b = max(start, hour), min(end, hour + 3600)
            factor = self.hourly.get(int(hour))
            if factor is not None:
                total += (b - a) * factor
                covered += b - a
            hour += 3600
        span = end - start
        if covered < span * 0.999:
            # fill hours the series lacks with the static factor, and say so
            total += (span - covered) * self.static_kg_per_kwh
            basis = f"{self.hourly_basis}+{self.static_basis}"
        else:
            basis = self.hourly_basis
        return kwh * total / span, basis


def load_eco2mix(path: str | Path) -> dict[int, float]:
    """Hourly kg/kWh from an éCO2mix export.

    Two layouts are read: the open-data CSV (`date_heure` ISO 8601 with offset, `taux_co2`),
    and the downloadable eCO2mix file (tab-separated, latin-1, `Date`, `Heures` in Paris time,
    `Taux de Co2`). Quarter-hour values are averaged into hours; empty values are skipped.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    first = text.splitlines()[0] if text else ""
    delim = "\t" if "\t" in first else ";" if ";" in first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    cols = {c.strip().lower(): c for c in reader.fieldnames or []}
    sums: dict[int, tuple[float, int]] = {}
    for n, row in enumerate(reader, start=2):
        try:
            if "taux_co2" in cols and "date_heure" in cols:
                value = row[cols["taux_co2"]]
                when = datetime.fromisoformat(row[cols["date_heure"]].strip())
            elif "taux de co2" in cols and "date" in cols and "heures" in cols:
                value = row[cols["taux de co2"]]
                local = datetime.fromisoformat(
                    f"{row[cols['date']].strip()}T{row[cols['heures']].strip()}"
                )
                when = local.replace(tzinfo=PARIS)
            else:
                raise ConfigError(
                    f"{path}: no taux_co2/date_heure (or Taux de Co2/Date/Heures) columns"
                )
        except (ValueError, TypeError, AttributeError):
            continue  # footer lines and malformed dates in exports
        if value is None or not value.strip() or not value.strip().replace(".", "").isdigit():
            continue
        if when.tzinfo is None:
            raise ConfigError(f"{path}: line {n}: date without time zone: {when}")
        hour = int(when.timestamp() // 3600 * 3600)
        s, c = sums.get(hour, (0.0, 0))
        sums[hour] = (s + float(value), c + 1)
    if not sums:
        raise ConfigError(f"{path}: no carbon intensity values found")
    return {h: s / c / 1000.0 for h, (s, c) in sums.items()}
