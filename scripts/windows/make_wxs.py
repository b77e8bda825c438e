"""Writes the WiX 3 source of the agent's MSI (built by scripts/build-msi.sh with wixl).

    python3 scripts/windows/make_wxs.py VERSION FILES_WXS OUT_WXS

FILES_WXS is wixl-heat's fragment for the embedded Python folder. What the MSI does, and every
public property, is documented in docs/windows.md; PROPERTIES below is the one list of them.
"""

from __future__ import annotations

import sys

UPGRADE_CODE = "05428127-558e-417e-9f48-8bbfe210f224"  # never changes: upgrades find the old one
INSTALL_KEY = r"Software\EnergyAgent\Install"
SERVICE = "EnergyAgent"

# property -> (value name under HKLM\Software\EnergyAgent\Install, what it sets)
PROPERTIES = {
    "TRANSPORT": ("transport", "mqtt or http (default: policy, the YAML, else none yet)"),
    "MQTT_HOST": ("mqtt.host", "broker host"),
    "MQTT_PORT": ("mqtt.port", "broker port"),
    "MQTT_TLS": ("mqtt.tls.enabled", "1 to use TLS"),
    "HTTP_URL": ("http.url", "collector URL, https://…/api/v1/reports"),
    "CA_FILE": ("ca_file", "CA bundle verifying the broker or collector"),
    "SITE": ("site", "site name"),
    "DEPARTMENT": ("department", "department"),
    "TAGS": ("tags", "tags as name=value;name=value"),
    "ENROLMENT_SECRET_FILE": ("enrolment.secret_file", "file holding the enrolment secret"),
    "ENROLMENT_URL": ("enrolment.url", "enrolment URL (MQTT transport)"),
    "LOG_LEVEL": ("log_level", "debug, info, warning or error"),
}


def wxs(version: str, files: str) -> str:
    searches, actions, ui_seq, exec_seq, values = [], [], [], [], []
    for i, (prop, (name, _)) in enumerate(PROPERTIES.items()):
        # an upgrade run without the property keeps the value the previous install wrote
        searches.append(
            f'    <Property Id="{prop}_SAVED"><RegistrySearch Id="Search{prop}" Root="HKLM" '
            f'Key="{INSTALL_KEY}" Name="{name}" Type="raw" Win64="yes"/></Property>'
        )
        actions.append(
            f'    <CustomAction Id="Keep{prop}" Property="{prop}" Value="[{prop}_SAVED]"/>'
        )
        cond = f"NOT {prop} AND {prop}_SAVED"
        for seq in (ui_seq, exec_seq):
            seq.append(f'      <Custom Action="Keep{prop}" Sequence="{60 + i}">{cond}</Custom>')
        values.append(
            f'            <RegistryValue Root="HKLM" Key="{INSTALL_KEY}" Name="{name}" '
            f'Type="string" Value="[{prop}]"/>'
        )
    nl = "\n"
    # sc.exe by its full path, set by a formatted custom action (FindScExe): a Property
    # table value is not formatted, and "[SystemFolder]sc.exe" taken literally is "can't
    # find executable". Not the MsiServiceConfigFailureActions table: restart actions there
    # fail with error 1939 (the installer's handle lacks SERVICE_START).
    recovery = "restart/60000/restart/60000/restart/300000"
    description = (
        "Reports this PC's power states (active, idle, suspended, off) for the city's REEN "
        "indicators"
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Energy Agent" Language="1033" Version="{version}"
           Manufacturer="energy-monitoring" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="Energy Agent {version}: power states and off-hours sleep of this PC"/>
    <MajorUpgrade DowngradeErrorMessage="A newer Energy Agent is already installed."/>
    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
    <Property Id="SERVICE_ACCOUNT" Value="NT AUTHORITY\\LocalService"/>
    <Property Id="SCEXE" Value="sc.exe"/>
    <Property Id="ARPNOMODIFY" Value="1"/>
{nl.join(searches)}
{nl.join(actions)}
    <CustomAction Id="FindScExe" Property="SCEXE" Value="[System64Folder]sc.exe"/>
    <CustomAction Id="RecoveryActions" Property="SCEXE"
                  ExeCommand="failure {SERVICE} reset= 86400 actions= {recovery}"
                  Execute="deferred" Impersonate="no" Return="ignore"/>
    <CustomAction Id="RecoveryOnErrors" Property="SCEXE"
                  ExeCommand="failureflag {SERVICE} 1" Execute="deferred" Impersonate="no"
                  Return="ignore"/>
    <InstallUISequence>
{nl.join(ui_seq)}
    </InstallUISequence>
    <InstallExecuteSequence>
{nl.join(exec_seq)}
      <Custom Action="FindScExe" After="CostFinalize">NOT REMOVE</Custom>
      <Custom Action="RecoveryActions" After="InstallServices">NOT REMOVE</Custom>
      <Custom Action="RecoveryOnErrors" After="RecoveryActions">NOT REMOVE</Custom>
    </InstallExecuteSequence>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="EnergyAgent">
          <Directory Id="PYTHONDIR" Name="python">
            <Component Id="Service" Guid="*" Win64="yes">
              <File Id="PythonExe" Source="$(var.SourceDir)/python.exe" KeyPath="yes"/>
              <ServiceInstall Id="AgentService" Name="{SERVICE}" DisplayName="Energy Agent"
                  Description="{description}"
                  Type="ownProcess" Start="auto" ErrorControl="normal"
                  Account="[SERVICE_ACCOUNT]" Arguments="-m agent service"/>
              <ServiceControl Id="AgentServiceControl" Name="{SERVICE}" Start="install"
                  Stop="both" Remove="uninstall" Wait="yes"/>
            </Component>
            <Component Id="Settings" Guid="*" Win64="yes">
{nl.join(values)}
              <RegistryValue Root="HKLM" Key="Software\\EnergyAgent" Name="Version"
                  Type="string" Value="{version}" KeyPath="yes"/>
            </Component>
            <Component Id="IdleHelper" Guid="*" Win64="yes">
              <File Id="PythonwExe" Source="$(var.SourceDir)/pythonw.exe" KeyPath="yes"/>
              <RegistryValue Root="HKLM" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run"
                  Name="EnergyAgentIdleHelper" Type="string"
                  Value="&quot;[PYTHONDIR]pythonw.exe&quot; -m agent idle-helper"/>
            </Component>
            <Component Id="EventSource" Guid="*" Win64="yes">
              <RegistryValue Root="HKLM"
                  Key="SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\{SERVICE}"
                  Name="EventMessageFile" Type="expandable"
                  Value="%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll"
                  KeyPath="yes"/>
              <RegistryValue Root="HKLM"
                  Key="SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\{SERVICE}"
                  Name="TypesSupported" Type="integer" Value="7"/>
            </Component>
          </Directory>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Agent" Title="Energy Agent" Level="1">
      <ComponentRef Id="Service"/>
      <ComponentRef Id="Settings"/>
      <ComponentRef Id="IdleHelper"/>
      <ComponentRef Id="EventSource"/>
      <ComponentGroupRef Id="PythonFiles"/>
    </Feature>
  </Product>
{files}
</Wix>
"""


def main() -> None:
    version, files_wxs, out = sys.argv[1:4]
    with open(files_wxs, encoding="utf-8") as f:
        text = f.read()
    # wixl-heat writes a whole <Wix> document: keep its fragments
    start, end = text.index("<Fragment>"), text.rindex("</Fragment>") + len("</Fragment>")
    fragments = text[start:end]
    # python.exe and pythonw.exe are the service's and the helper's key files, declared above
    for exe in ("python.exe", "pythonw.exe"):
        fragments = drop_file(fragments, exe)
    with open(out, "w", encoding="utf-8") as f:
        f.write(wxs(version, fragments))


def drop_file(fragments: str, name: str) -> str:
    import re

    pattern = re.compile(
        r"<Component [^>]*>\s*<File [^>]*Source=\"[^\"]*/" + re.escape(name) + r"\"[^>]*/>\s*"
        r"</Component>",
        re.S,
    )
    found = pattern.search(fragments)
    if not found:
        raise SystemExit(f"make_wxs: {name} not in the file list")
    comp_id = re.search(r'Id="([^"]+)"', found.group(0)).group(1)  # type: ignore[union-attr]
    fragments = fragments[: found.start()] + fragments[found.end() :]
    return re.sub(r"\s*<ComponentRef Id=\"" + re.escape(comp_id) + r"\"/>", "", fragments)


if __name__ == "__main__":
    main()
