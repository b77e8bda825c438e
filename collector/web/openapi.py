"""The OpenAPI description of every route (served at /api/v1/openapi.json). The tests check
the server against it with schemathesis, and that every route of the app is described."""

from __future__ import annotations

from typing import Any

from energy_common.schema import REPORT_SCHEMA

_ERROR = {
    "description": "",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}


def _error(text: str) -> dict[str, Any]:
    return {**_ERROR, "description": text}


_UNAUTHORIZED = _error("Missing or wrong bearer token.")
_BAD_QUERY = _error("A query parameter is missing or malformed (the message names it).")
_JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}


def _read(
    summary: str,
    params: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    content: dict[str, Any] | None = None,
) -> Any:
    return {
        "get": {
            "summary": summary,
            "security": [{"read": []}, {}],
            "parameters": params,
            "responses": {
                "200": {"description": "The figures.", "content": content or _JSON_OBJECT},
                "400": _BAD_QUERY,
                "401": _UNAUTHORIZED,
                **(extra or {}),
            },
        }
    }


def _q(name: str, schema: dict[str, Any], required: bool = False, text: str = "") -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


_DATE = {"type": "string", "format": "date"}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "energy-collector",
        "version": "1",
        "description": "Agent reports in; the fleet, compliance and datacenter figures out.",
    },
    "components": {
        "securitySchemes": {
            "ingest": {"type": "http", "scheme": "bearer", "description": "http.token_file"},
            "read": {"type": "http", "scheme": "bearer", "description": "http.read_token_file"},
            "enrolment": {
                "type": "http",
                "scheme": "bearer",
                "description": "enrolment.secret_file",
            },
        },
        "schemas": {"Report": REPORT_SCHEMA},
    },
    "paths": {
        "/api/v1/reports": {
            "post": {
                "summary": "One agent report; answered after the ledger commit.",
                "security": [{"ingest": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "Committed (or committed before: `duplicate`).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["result"],
                                    "properties": {"result": {"enum": ["accepted", "duplicate"]}},
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "Rejected for a reason of its own; never retried.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["result", "reason"],
                                    "properties": {
                                        "result": {"const": "rejected"},
                                        "reason": {"type": "string"},
                                        "detail": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        },
                    },
                    "401": _UNAUTHORIZED,
                    "408": _error("The body did not arrive within http.body_timeout_s."),
                    "413": {
                        "description": "Larger than http.max_body_bytes.",
                        "content": _JSON_OBJECT,
                    },
                    "503": _error("Not committed in time (ledger down or long queue): retry."),
                },
            }
        },
        "/api/v1/enrol": {
            "post": {
                "summary": "An agent's first call: the site enrolment secret for its own token.",
                "security": [{"enrolment": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["agent_id", "hostname"],
                                "properties": {
                                    "agent_id": REPORT_SCHEMA["properties"]["agent_id"],
                                    "hostname": REPORT_SCHEMA["properties"]["host"]["properties"][
                                        "hostname"
                                    ],
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "The agent's token (shown once; the ledger keeps a hash).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["agent_id", "token"],
                                    "properties": {
                                        "agent_id": {"type": "string"},
                                        "token": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("The body is not {agent_id, hostname}."),
                    "401": _error("Missing or wrong enrolment secret."),
                    "403": _error("This agent id is revoked."),
                    "404": _error("Enrolment is not configured."),
                    "409": _error("This agent id is already enrolled (ops can reset it)."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus exposition.",
                "security": [{"read": []}, {}],
                "responses": {
                    "200": {"description": "", "content": {"text/plain": {"schema": {}}}},
                    "401": _UNAUTHORIZED,
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness (says nothing else; no token).",
                "responses": {
                    "200": {"description": "", "content": {"text/plain": {"schema": {}}}}
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This description.",
                "responses": {"200": {"description": "", "content": _JSON_OBJECT}},
            }
        },
        "/api/v1/status": _read("The fleet now and the ingest's health.", []),
        "/api/v1/compliance/report": _read(
            "The morning report (names hosts: read token).",
            [
                _q("date", _DATE, text="Report of this day (default: today)."),
                _q("lang", {"enum": ["fr", "en"]}),
                _q("format", {"enum": ["json", "csv", "text"]}),
            ],
            {"404": _error("Compliance is disabled.")},
            {
                **_JSON_OBJECT,
                "text/csv": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        ),
        "/api/v1/compliance/rates": _read(
            "Compliance rates over a period.",
            [
                _q("from", _DATE, required=True),
                _q("to", _DATE),
                _q("by", {"enum": ["site", "department"]}),
            ],
        ),
        "/api/v1/datacenter/pue": _read(
            "PUE of a datacenter (or a room) over an hour, day, month or year (in progress: up "
            "to now); null, with pue_missing, where a side covers less than "
            "compliance.coverage_min of it.",
            [
                _q("datacenter", {"type": "string", "minLength": 1}, required=True),
                _q(
                    "start",
                    {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2})?)?)?$"},
                    required=True,
                    text="YYYY-MM-DDTHH for an hour, YYYY-MM-DD for a day, YYYY-MM for a month, "
                    "YYYY for a year (a longer form names the period holding it); a real date, "
                    "years 1970 to 9998.",
                ),
                _q("period", {"enum": ["hour", "day", "month", "year"]}),
                _q("room", {"type": "string"}),
                _q("category", {"enum": ["1", "2", "3"]}),
            ],
        ),
        "/api/v1/datacenter/eu-report": _read(
            "EU data-centre indicators of a year.",
            [_q("year", {"type": "integer", "minimum": 2000, "maximum": 2100}, required=True)],
        ),
    },
}
