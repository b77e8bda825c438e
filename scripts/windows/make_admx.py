"""Writes the Group Policy templates: configs/windows/EnergyAgent.admx and its en-US and fr-FR
.adml. Each policy writes one value under HKLM\\Software\\Policies\\EnergyAgent, named after the
configuration option it sets (agent/winpolicy.py reads them; policy wins over the YAML).

    python3 scripts/windows/make_admx.py [OUT_DIR]     default configs/windows
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

KEY = r"Software\Policies\EnergyAgent"

# (id, option, element, (en name, en help), (fr name, fr help)); element: text, decimal
# (min, max), bool, enum (choices) or list (a subkey of name=value pairs)
POLICIES: list[tuple[str, str, tuple, tuple[str, str], tuple[str, str]]] = [
    (
        "Transport",
        "transport",
        ("enum", ("mqtt", "http")),
        ("Transport", "How reports reach the collector: through the MQTT broker, or HTTP(S)."),
        ("Transport", "Comment les rapports rejoignent le collecteur : broker MQTT ou HTTP(S)."),
    ),
    (
        "MqttHost",
        "mqtt.host",
        ("text", 255),
        ("MQTT broker host", "Host name or address of the MQTT broker."),
        ("Hôte du broker MQTT", "Nom ou adresse du broker MQTT."),
    ),
    (
        "MqttPort",
        "mqtt.port",
        ("decimal", 1, 65535),
        ("MQTT broker port", "TCP port of the broker (8883 is usual with TLS)."),
        ("Port du broker MQTT", "Port TCP du broker (8883 en général avec TLS)."),
    ),
    (
        "MqttTls",
        "mqtt.tls.enabled",
        ("bool",),
        ("Use TLS to the broker", "Enabled: the connection to the broker uses TLS."),
        ("TLS vers le broker", "Activé : la connexion au broker utilise TLS."),
    ),
    (
        "MqttCaFile",
        "mqtt.tls.ca_file",
        ("text", 260),
        ("CA file for the broker", "CA bundle (PEM) verifying the broker's certificate."),
        ("Fichier d'AC du broker", "Certificats d'AC (PEM) vérifiant celui du broker."),
    ),
    (
        "HttpUrl",
        "http.url",
        ("text", 1024),
        ("Collector URL", "https://collector.example/api/v1/reports"),
        ("URL du collecteur", "https://collecteur.exemple/api/v1/reports"),
    ),
    (
        "HttpCaFile",
        "http.ca_file",
        ("text", 260),
        ("CA file for the collector", "CA bundle (PEM) verifying the collector's certificate."),
        ("Fichier d'AC du collecteur", "Certificats d'AC (PEM) vérifiant celui du collecteur."),
    ),
    (
        "Site",
        "site",
        ("text", 64),
        ("Site", "The site this PC belongs to (a building, a school)."),
        ("Site", "Le site auquel ce poste appartient (un bâtiment, une école)."),
    ),
    (
        "Department",
        "department",
        ("text", 64),
        ("Department", "The department this PC belongs to."),
        ("Direction", "La direction ou le service auquel ce poste appartient."),
    ),
    (
        "Tags",
        "tags",
        ("list",),
        ("Tags", "Free tags: value name = tag, value = its value (floor, wing, kiosk…)."),
        ("Étiquettes", "Étiquettes libres : nom = étiquette, valeur = sa valeur."),
    ),
    (
        "SleepBlockers",
        "sleep_blockers.enabled",
        ("bool",),
        ("Report sleep blockers", "Enabled: report which applications keep the PC awake."),
        (
            "Signaler ce qui empêche la veille",
            "Activé : signale les applications qui empêchent la mise en veille.",
        ),
    ),
    (
        "SleepBlockerReasons",
        "sleep_blockers.reasons",
        ("bool",),
        ("Send blocker reasons", "Enabled: include the reason texts applications give."),
        ("Envoyer les motifs", "Activé : inclut les motifs donnés par les applications."),
    ),
    (
        "ReportInterval",
        "report_interval_s",
        ("decimal", 1, 86400),
        ("Report interval (seconds)", "Regular report period."),
        ("Intervalle des rapports (secondes)", "Période des rapports réguliers."),
    ),
    (
        "ReloadInterval",
        "reload_interval_s",
        ("decimal", 0, 86400),
        (
            "Settings re-read interval (seconds)",
            "How often the running agent reads these policies and its agent.yaml again and "
            "takes up what changed, without a restart (default 120; 0: only at start).",
        ),
        (
            "Relecture des paramètres (secondes)",
            "Fréquence à laquelle l'agent relit ces stratégies et son agent.yaml et applique "
            "ce qui a changé, sans redémarrage (120 par défaut ; 0 : au démarrage seulement).",
        ),
    ),
    (
        "IdleThreshold",
        "idle_threshold_s",
        ("decimal", 10, 86400),
        ("Idle after (seconds)", "No user input for this long makes the PC idle."),
        (
            "Inactif après (secondes)",
            "Sans action de l'utilisateur pendant ce temps, le poste est inactif.",
        ),
    ),
    (
        "LogLevel",
        "log_level",
        ("enum", ("debug", "info", "warning", "error")),
        ("Log level", "Detail of the agent's log and event log entries."),
        ("Niveau de journalisation", "Détail du journal de l'agent."),
    ),
]

ROOT_ATTRS = (
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" revision="1.0" schemaVersion="1.0" '
    'xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"'
)
SUPPORTED = {"en-US": "Windows 10 or later", "fr-FR": "Windows 10 ou ultérieur"}
CATEGORY = {"en-US": "Energy Agent", "fr-FR": "Agent énergie"}
TRUE_FALSE = {"en-US": ("Yes", "No"), "fr-FR": ("Oui", "Non")}


def admx() -> str:
    out = []
    for pid, option, element, _, _ in POLICIES:
        kind = element[0]
        head = (
            f'    <policy name="{pid}" class="Machine" displayName="$(string.{pid})" '
            f'explainText="$(string.{pid}_Help)"'
        )
        tail = (
            '      <parentCategory ref="EnergyAgent"/>\n'
            '      <supportedOn ref="SUPPORTED_Win10"/>\n'
        )
        if kind == "bool":
            out.append(
                f'{head} key="{KEY}" valueName="{option}">\n{tail}'
                '      <enabledValue><decimal value="1"/></enabledValue>\n'
                '      <disabledValue><decimal value="0"/></disabledValue>\n'
                "    </policy>"
            )
            continue
        if kind == "text":
            el = f'<text id="{pid}" valueName="{option}" maxLength="{element[1]}" required="true"/>'
        elif kind == "decimal":
            el = (
                f'<decimal id="{pid}" valueName="{option}" minValue="{element[1]}" '
                f'maxValue="{element[2]}" required="true"/>'
            )
        elif kind == "enum":
            items = "".join(
                f'<item displayName="$(string.{pid}_{c})"><value><string>{c}</string></value>'
                "</item>"
                for c in element[1]
            )
            el = f'<enum id="{pid}" valueName="{option}" required="true">{items}</enum>'
        else:  # list
            el = f'<list id="{pid}" key="{KEY}\\Tags" explicitValue="true"/>'
        out.append(
            f'{head} presentation="$(presentation.{pid})" key="{KEY}">\n{tail}'
            f"      <elements>{el}</elements>\n    </policy>"
        )
    policies = "\n".join(out)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- generated by scripts/windows/make_admx.py: edit that, not this -->
<policyDefinitions {ROOT_ATTRS}>
  <policyNamespaces>
    <target prefix="energyagent" namespace="EnergyMonitoring.Policies.EnergyAgent"/>
    <using prefix="windows" namespace="Microsoft.Policies.Windows"/>
  </policyNamespaces>
  <resources minRequiredRevision="1.0"/>
  <supportedOn>
    <definitions>
      <definition name="SUPPORTED_Win10" displayName="$(string.SUPPORTED_Win10)"/>
    </definitions>
  </supportedOn>
  <categories>
    <category name="EnergyAgent" displayName="$(string.EnergyAgent)"/>
  </categories>
  <policies>
{policies}
  </policies>
</policyDefinitions>
"""


def adml(lang: str) -> str:
    strings = [
        ("EnergyAgent", CATEGORY[lang]),
        ("SUPPORTED_Win10", SUPPORTED[lang]),
    ]
    presentations = []
    for pid, option, element, en, fr in POLICIES:
        name, help_text = en if lang == "en-US" else fr
        strings.append((pid, name))
        strings.append((f"{pid}_Help", f"{help_text}\n\n({KEY}\\{option})"))
        kind = element[0]
        if kind == "enum":
            strings += [(f"{pid}_{c}", c) for c in element[1]]
            presentations.append(
                f'<presentation id="{pid}"><dropdownList refId="{pid}">{escape(name)}'
                "</dropdownList></presentation>"
            )
        elif kind == "text":
            presentations.append(
                f'<presentation id="{pid}"><textBox refId="{pid}"><label>{escape(name)}</label>'
                "</textBox></presentation>"
            )
        elif kind == "decimal":
            presentations.append(
                f'<presentation id="{pid}"><decimalTextBox refId="{pid}">{escape(name)}'
                "</decimalTextBox></presentation>"
            )
        elif kind == "list":
            presentations.append(
                f'<presentation id="{pid}"><listBox refId="{pid}">{escape(name)}</listBox>'
                "</presentation>"
            )
    table = "\n".join(f'      <string id="{i}">{escape(t)}</string>' for i, t in strings)
    pres = "\n".join(f"      {p}" for p in presentations)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- generated by scripts/windows/make_admx.py: edit that, not this -->
<policyDefinitionResources {ROOT_ATTRS}>
  <displayName>{CATEGORY[lang]}</displayName>
  <description>{CATEGORY[lang]}</description>
  <resources>
    <stringTable>
{table}
    </stringTable>
    <presentationTable>
{pres}
    </presentationTable>
  </resources>
</policyDefinitionResources>
"""


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "EnergyAgent.admx").write_text(admx(), encoding="utf-8")
    for lang in ("en-US", "fr-FR"):
        (out / lang).mkdir(exist_ok=True)
        (out / lang / "EnergyAgent.adml").write_text(adml(lang), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "configs/windows"))
