"""The report schema: one definition, a generated JSON Schema, a parser that agrees with it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_common.schema import REPORT_SCHEMA, ReportError, parse_report, report_to_json

ROOT = Path(__file__).parent.parent
EXAMPLE = {
    "schema": "energy-agent/1",
    "agent_id": "3f1c7e0a-5b7e-4d0b-9a53-2b8f4f7d2a11",
    "seq": 4182,
    "sent_at": "2026-11-23T07:42:10Z",
    "host": {
        "hostname": "PC-DSI-0421",
        "kind": "desktop",
        "model": "OptiPlex 7080",
        "os": "Windows 11 23H2",
        "site": "hotel-de-ville",
        "department": "DSI",
        "manufactured": "2020-06",
        "cpus": 8,
        "memory_bytes": 17179869184,
        "tags": {},
    },
    "boot_time": "2026-11-23T07:31:02Z",
    "segments": [
        {
            "start": "2026-11-22T17:55:00Z",
            "end": "2026-11-23T07:31:02Z",
            "state": "off",
            "clean": True,
        },
        {
            "start": "2026-11-23T07:31:02Z",
            "end": "2026-11-23T07:40:00Z",
            "state": "active",
            "cpu_util": 0.18,
        },
        {
            "start": "2026-11-23T07:40:00Z",
            "end": "2026-11-23T07:42:10Z",
            "state": "idle",
            "cpu_util": 0.03,
            "energy_j": {"value": 2210.5, "source": "rapl"},
        },
    ],
}


def test_generated_schema_file_is_current():
    on_disk = json.loads((ROOT / "docs/report-schema.json").read_text())
    assert on_disk == REPORT_SCHEMA, "run: python -m energy_common.schema > docs/report-schema.json"


def test_schema_is_valid_json_schema_and_accepts_the_design_example():
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)
    jsonschema.validate(EXAMPLE, REPORT_SCHEMA)
    r = parse_report(json.dumps(EXAMPLE))
    assert r.seq == 4182 and r.segments[2].energy_j == 2210.5
    assert r.segments[0].clean is True


def test_docs_example_is_valid():
    text = (ROOT / "docs/report-schema.md").read_text()
    block = text.split("```json", 1)[1].split("```", 1)[0]
    parse_report(block)


def test_round_trip_preserves_report():
    r = parse_report(json.dumps(EXAMPLE))
    assert parse_report(json.dumps(report_to_json(r))) == r


def mutate(path, value):
    doc = copy.deepcopy(EXAMPLE)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


BAD = [
    ("schema", mutate(["schema"], "energy-agent/2")),
    ("schema", mutate(["seq"], -1)),
    ("schema", mutate(["seq"], "12")),
    ("schema", mutate(["seq"], True)),
    ("schema", mutate(["agent_id"], "not-a-uuid")),
    ("schema", mutate(["host", "kind"], "toaster")),
    ("schema", mutate(["host", "hostname"], "")),
    ("schema", mutate(["host", "user"], "alice")),  # unknown fields refused: privacy too
    ("schema", mutate(["segments"], [])),
    ("schema", mutate(["segments", 0, "state"], "hibernating")),
    ("schema", mutate(["segments", 1, "cpu_util"], 1.5)),
    ("schema", mutate(["segments", 1, "start"], "2026-11-23 07:31:02")),
    ("schema", mutate(["segments", 1, "start"], "2026-11-23T07:31:02+01:00")),
    ("schema", mutate(["segments", 2, "energy_j"], {"value": -1, "source": "rapl"})),
    ("schema", mutate(["sent_at"], KeyError)),
    ("timeline", mutate(["segments", 1, "start"], "2026-11-23T07:30:00Z")),
    ("timeline", mutate(["segments", 1, "start"], "2026-11-23T07:35:00Z")),
    ("timeline", mutate(["segments", 1, "end"], "2026-11-23T07:20:00Z")),
    ("value", mutate(["segments", 2, "energy_j"], {"value": 9e9, "source": "rapl"})),
]


@pytest.mark.parametrize("reason,doc", BAD)
def test_bad_reports_rejected_with_reason(reason, doc):
    with pytest.raises(ReportError) as exc:
        parse_report(json.dumps(doc))
    assert exc.value.reason == reason


def test_not_json_oversized_and_future():
    with pytest.raises(ReportError, match="json"):
        parse_report(b"{not json")
    with pytest.raises(ReportError, match="oversized"):
        parse_report(b" " * 300_000)
    with pytest.raises(ReportError, match="future"):
        parse_report(json.dumps(EXAMPLE), now=1_795_000_000.0 - 10 * 86400)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def stricter_on_purpose(exc: ReportError) -> bool:
    """What the parser refuses although JSON Schema lets it through: control characters and
    lone surrogates, dates that are not on the calendar, integers written as floats (5.0),
    and a pattern matched only up to a trailing newline (Python's `$`)."""
    return any(
        words in exc.detail
        for words in (
            "control character",
            "not a real date",
            "expected integer, got float",
            "\\n' has the wrong format",
        )
    )


def _paths(doc):
    """Every path into `doc` (keys and list indexes), the document itself first."""
    out = []

    def walk(node, path):
        out.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, [*path, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, [*path, i])

    walk(doc, [])
    return out


@settings(max_examples=300, deadline=None)
@given(path_index=st.integers(0, 40), value=json_values)
def test_validator_agrees_with_jsonschema_on_mutations(path_index, value):
    paths = _paths(EXAMPLE)
    path = paths[1:][path_index % (len(paths) - 1)]
    doc = mutate(path, value)
    ours_ok = True
    try:
        parse_report(json.dumps(doc))
    except ReportError as exc:
        ours_ok = False
        assert exc.reason in ("schema", "timeline", "value", "past")
        schema_ok = jsonschema.Draft202012Validator(REPORT_SCHEMA).is_valid(doc)
        if exc.reason == "schema" and not stricter_on_purpose(exc):
            assert not schema_ok, f"we rejected what JSON Schema accepts: {exc}"
    if ours_ok:
        assert jsonschema.Draft202012Validator(REPORT_SCHEMA).is_valid(doc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_parser_never_crashes_on_garbage(data):
    try:
        parse_report(data)
    except ReportError as exc:
        assert exc.reason in ("json", "schema", "timeline", "future", "value")


def _all_fields(schema, out):
    for name, sub in schema.get("properties", {}).items():
        out.add(name)
        _all_fields(sub, out)
    if isinstance(schema.get("items"), dict):
        _all_fields(schema["items"], out)
    return out


def test_privacy_doc_lists_every_field_sent():
    text = (ROOT / "docs/privacy.md").read_text()
    listed = {
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    }
    assert _all_fields(REPORT_SCHEMA, set()) == listed


# every optional part of the schema present once, for the written-out check below
FULL = {
    **copy.deepcopy(EXAMPLE),
    "agent_version": "1.4.0",
    "incarnation": "9f0e1d2c3b4a5968",
    "spool_dropped": 3,
    "unreadable": ["sleep_blockers", "input_idle"],
    "policy": {
        "version": "v7",
        "mode": "advise",
        "events": {"warned": 2, "advised": 1},
        "actions": [{"at": "2026-11-22T19:00:00Z", "action": "sleep", "mode": "advise"}],
    },
    "wake": {
        "interfaces": [
            {"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "ipv4": "10.0.0.5/24", "wol": "g"}
        ],
        "fast_startup": False,
        "s3": True,
    },
    "sleep_blockers": [{"app": "Teams", "what": "display", "reason": "call"}],
}
FULL["host"].update(
    serial="CZC1234",
    smbios_uuid="4c4c4544-0042-3510-8052-b4c04f4e3132",
    macs=["aa:bb:cc:dd:ee:ff"],
    tags={"always_on": "true"},
)

tricky_values = json_values | st.sampled_from(
    ["", "a\nb", "\ud800", "x" * 300, 1.5, -1, 2**64, True, None, [], {}, "2026-02-30T00:00:00Z"]
)


@settings(max_examples=400, deadline=None)
@given(path_index=st.integers(0, 200), value=tricky_values, chars=st.booleans())
def test_written_out_check_agrees_with_the_reference_validator(path_index, value, chars):
    """The check generated once from the schema (the fast path of every parse) says valid
    exactly when the reference validator does, so rejections and their reasons stay its."""
    from energy_common.schema import _report_is_valid, validate

    paths = _paths(FULL)
    path = paths[1:][path_index % (len(paths) - 1)]
    doc = copy.deepcopy(FULL)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        validate(doc, REPORT_SCHEMA, chars=chars)
        reference_ok = True
    except ReportError:
        reference_ok = False
    assert _report_is_valid(doc, chars) == reference_ok, (path, value)
    assert _report_is_valid(copy.deepcopy(FULL), chars)
