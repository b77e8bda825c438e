"""The sources of the report's factors as a citizen can look them up: publisher, dataset,
name, version and where to find it; and the configuration's factor labels (slugs such as
`ademe-base-empreinte-v23:…`) said in words. The titles stay in their own language."""

from __future__ import annotations

from collector.render.words import N_

SOURCES = [
    {
        "key": "ademe",
        "publisher": "ADEME",
        "title": "Base Empreinte",
        "version": N_("version 23"),
        "what": N_("electricity, average mix, consumption"),
        "url": "https://base-empreinte.ademe.fr/",
    },
    {
        "key": "rte",
        "publisher": "RTE",
        "title": "éCO2mix",
        "version": "",
        "what": N_("hourly carbon intensity of French production"),
        "url": "https://www.rte-france.com/eco2mix",
    },
    {
        "key": "energystar",
        "publisher": "U.S. EPA",
        "title": "ENERGY STAR Computers",
        "version": N_("version 8.0"),
        "what": N_("power of PCs idle, asleep and off"),
        "url": "https://www.energystar.gov/products/computers",
    },
    {
        "key": "ecodesign",
        "publisher": N_("European Commission"),
        "title": N_("Regulations (EU) No 617/2013 and 2019/2021 (ecodesign)"),
        "version": "",
        "what": N_("power limits of computers and displays asleep and off"),
        "url": "https://eur-lex.europa.eu/eli/reg/2013/617/oj",
    },
    {
        "key": "spec",
        "publisher": "SPEC",
        "title": "SPECpower_ssj2008",
        "version": "",
        "what": N_("power of servers from idle to full load"),
        "url": "https://www.spec.org/power_ssj2008/results/",
    },
    {
        "key": "ccf",
        "publisher": "Cloud Carbon Footprint",
        "title": N_("Methodology: energy estimate"),
        "version": "",
        "what": N_("power of a virtual processor and of memory"),
        "url": "https://www.cloudcarbonfootprint.org/docs/methodology/",
    },
    {
        "key": "boavizta",
        "publisher": "Boavizta",
        "title": N_(
            "Manufacturing footprints of IT equipment (from ADEME Base Empreinte and NegaOctet)"
        ),
        "version": "",
        "what": N_("manufacturing emissions and lifetimes"),
        "url": "https://boavizta.org/",
    },
]

# the configuration's labels of the grid factor, said in words
BASES = {
    "ademe-base-empreinte-v23:electricite-mix-moyen-consommation": N_(
        "ADEME, Base Empreinte, version 23: electricity, average mix, consumption"
    ),
    "rte-eco2mix:taux_co2": N_("RTE, éCO2mix: hourly carbon intensity of French production"),
}
PROFILES = N_(
    "ENERGY STAR, EU ecodesign, SPECpower, Cloud Carbon Footprint; manufacturing: ADEME Base "
    "Empreinte and NegaOctet through Boavizta (see the sources below)"
)
