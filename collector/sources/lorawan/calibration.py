"""Smart plugs measuring a PC: measured / modelled energy for that host, so the power profiles
can be calibrated from a metered sample of PCs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from collector.ledger import Ledger


@dataclass(frozen=True)
class Calibration:
    meter: str
    host: str
    measured_wh: float
    modelled_wh: float

    @property
    def ratio(self) -> float | None:
        return self.measured_wh / self.modelled_wh if self.modelled_wh > 0 else None


def plug_calibration(
    ledger: Ledger, first: date, last: date, tz: str = "Europe/Paris"
) -> list[Calibration]:
    """Over whole local days `first`..`last`: each host plug's energy against the ledger's
    modelled energy of the host it measures (hosts matched by hostname)."""
    z = ZoneInfo(tz)
    start = datetime.combine(first, dtime(0), z).timestamp()
    end = datetime.combine(last + timedelta(days=1), dtime(0), z).timestamp()
    out = []
    for meter, host in ledger.execute(
        "SELECT meter, host FROM meters WHERE role = 'host_plug' AND host IS NOT NULL"
    ):
        (measured,) = ledger.execute(
            "SELECT COALESCE(SUM(wh), 0) FROM meter_hours WHERE meter = ? AND hour_start >= ? "
            "AND hour_start < ?",
            (meter, start, end),
        )[0]
        (modelled,) = ledger.execute(
            "SELECT COALESCE(SUM(d.wh_modelled + d.wh_measured), 0) FROM host_days d "
            "JOIN hosts h ON h.host_id = d.host_id WHERE h.hostname = ? AND d.day >= ? "
            "AND d.day <= ?",
            (host, first.isoformat(), last.isoformat()),
        )[0]
        out.append(Calibration(meter, host, float(measured), float(modelled)))
    return out
