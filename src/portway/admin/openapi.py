"""The admin API's OpenAPI 3.1 document, served at /openapi.json.

It is built from the app's endpoint table (admin/app.py ``ENDPOINTS``): a path or method the table
lacks cannot be described here, and one it has without a description here fails loudly at import
of the test that validates the document, not silently in a client generated from it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from portway import __version__
from portway.upstream.breaker import Circuit
from portway.upstream.health import Health

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_OBJECT: dict[str, Any] = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


# path → method → operation (responses common to all are added by openapi_document)
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Whether this gateway serves (ok) or is draining",
            "responses": {"200": _json(_ref("Health"), "ok or draining")},
        }
    },
    "/status": {
        "get": {
            "operationId": "status",
            "summary": "The process: listener, connections, reloads, config version, routes and targets. "
            "With --workers N: one entry per worker and totals",
            "responses": {"200": _json(_ref("Status"), "this process, or every worker")},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus text exposition (with --workers N: counters and histograms summed "
            "over the workers, gauges labelled by worker)",
            "responses": {
                "200": {
                    "description": "Prometheus text format 0.0.4",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/routes": {
        "get": {
            "operationId": "routes",
            "summary": "Every route in config order: match, rewrite, upstream, policies in chain order",
            "responses": {"200": _json(_ref("Routes"), "the route table")},
        }
    },
    "/upstreams": {
        "get": {
            "operationId": "upstreams",
            "summary": "Every upstream: in flight, retries, retry budget; per target its health, "
            "breaker, outlier ejections and pool",
            "responses": {"200": _json(_ref("Upstreams"), "the upstreams, as this worker sees them")},
        }
    },
    "/config": {
        "get": {
            "operationId": "config",
            "summary": "The running config (secrets redacted) and its version",
            "responses": {"200": _json(_ref("ConfigDocument"), "the effective config")},
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": _json(_OBJECT, "OpenAPI 3.1")},
        }
    },
    "/reload": {
        "post": {
            "operationId": "reload",
            "summary": "Reload the config file, as SIGHUP does: validated first; if refused, the "
            "running config stays",
            "responses": {
                "200": _json(_ref("Reloaded"), "the new config runs"),
                "400": _problem("the request had a body"),
                "422": {
                    "description": "the config was refused (the old one keeps running)",
                    "content": {"application/problem+json": {"schema": _ref("ReloadRefused")}},
                },
            },
        }
    },
    "/cache/purge": {
        "post": {
            "operationId": "purgeCache",
            "summary": "Remove cached responses: one key, or every key under a prefix",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PurgeRequest")}},
            },
            "responses": {
                "200": _json(_ref("Purged"), "what was removed"),
                "400": _problem("the body is not JSON"),
                "404": _problem("no cache configured"),
                "413": _problem("the body is too large"),
                "422": _problem("not exactly one of key or prefix, as a non-empty string"),
            },
        }
    },
}

_COUNT = {"type": "integer", "minimum": 0}
_HEALTH_STATE = {"type": "string", "enum": [state.value for state in Health]}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok", "draining"]}},
    },
    "Status": {
        "type": "object",
        "description": "One process; with --workers N, `workers` lists each and `totals` sums them",
        "properties": {
            "pid": {"type": "integer"},
            "version": {"type": "string"},
            "listen": {"type": "string"},
            "requests": {**_COUNT, "description": "answered since the process started"},
            "connections": _COUNT,
            "draining": {"type": "boolean"},
            "reloads": _COUNT,
            "routes": {"type": "array", "items": {"type": "string"}},
            "upstreams": {"type": "object", "additionalProperties": {"type": "array", "items": _OBJECT}},
            "upstream_state": {"type": "object", "additionalProperties": _OBJECT},
            "workers": {"type": "array", "items": _OBJECT},
            "totals": {
                "type": "object",
                "properties": {
                    "workers": _COUNT,
                    "answering": _COUNT,
                    "requests": _COUNT,
                    "connections": _COUNT,
                    "reloads": _COUNT,
                    "versions": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
    "Route": {
        "type": "object",
        "required": ["name", "match", "upstream", "policies"],
        "properties": {
            "name": {"type": "string"},
            "match": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "host": {"type": ["string", "null"]},
                    "methods": {
                        "description": "null: every method",
                        "type": ["array", "null"],
                        "items": {"type": "string"},
                    },
                },
            },
            "rewrite": {"type": ["string", "null"]},
            "upstream": {"type": "string"},
            "policies": {
                "description": "in the order a request meets them",
                "type": "array",
                "items": {"type": "string"},
            },
        },
    },
    "Routes": {
        "type": "object",
        "required": ["routes"],
        "properties": {"routes": {"type": "array", "items": _ref("Route")}},
    },
    "Target": {
        "type": "object",
        "required": ["address", "health", "pool", "in_flight"],
        "properties": {
            "address": {"type": "string"},
            "up": {"type": "boolean", "description": "in rotation now"},
            "health": {
                "type": "object",
                "properties": {
                    "state": _HEALTH_STATE,
                    "ejections": {**_COUNT, "description": "outlier ejections and failed checks, ever"},
                    "back_in": {"type": "number", "description": "seconds until it is tried again"},
                },
            },
            "breaker": {
                "type": ["object", "null"],
                "properties": {
                    "state": {"type": "string", "enum": [state.value for state in Circuit]},
                    "opened": _COUNT,
                },
            },
            "connect_failures": _COUNT,
            "pool": {
                "type": "object",
                "properties": {"open": _COUNT, "idle": _COUNT, "busy": _COUNT, "waiting": _COUNT},
            },
            "in_flight": {**_COUNT, "description": "requests holding or waiting for a connection"},
        },
    },
    "Upstream": {
        "type": "object",
        "properties": {
            "in_flight": _COUNT,
            "retries": {"type": "object", "additionalProperties": _COUNT},
            "retry_budget": {
                "type": "object",
                "properties": {"requests": _COUNT, "retries": _COUNT, "spent": _COUNT, "exhausted": _COUNT},
            },
            "targets": {"type": "array", "items": _ref("Target")},
        },
    },
    "Upstreams": {
        "type": "object",
        "required": ["upstreams"],
        "properties": {"upstreams": {"type": "object", "additionalProperties": _ref("Upstream")}},
    },
    "ConfigDocument": {
        "type": "object",
        "required": ["version", "config"],
        "properties": {
            "version": {"type": "string", "description": "a digest of the effective config"},
            "config": {"type": "object", "description": "the config, defaults filled, secrets <redacted>"},
        },
    },
    "Reloaded": {
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"type": "string"}, "workers": {"type": "array", "items": _OBJECT}},
    },
    "ReloadRefused": {
        "allOf": [
            _PROBLEM,
            {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "file": {"type": "string"},
                                "line": {"type": ["integer", "null"]},
                                "path": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                    "version": {"type": "null"},
                    "workers": {"type": "array", "items": _OBJECT},
                },
            },
        ]
    },
    "PurgeRequest": {
        "oneOf": [
            {
                "type": "object",
                "required": ["key"],
                "additionalProperties": False,
                "properties": {"key": {"type": "string", "minLength": 1}},
            },
            {
                "type": "object",
                "required": ["prefix"],
                "additionalProperties": False,
                "properties": {"prefix": {"type": "string", "minLength": 1}},
            },
        ]
    },
    "Purged": {
        "type": "object",
        "required": ["purged"],
        "properties": {"key": {"type": "string"}, "prefix": {"type": "string"}, "purged": _COUNT},
    },
}


def openapi_document(endpoints: Mapping[bytes, Collection[str]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for raw, methods in endpoints.items():
        path = raw.decode()
        paths[path] = {}
        for method in methods:
            operation = OPERATIONS[path][method.lower()]  # KeyError: an endpoint without a description
            responses = {**operation["responses"], "401": {"$ref": "#/components/responses/Unauthorized"}}
            paths[path][method.lower()] = {**operation, "responses": responses}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portway admin API",
            "version": __version__,
            "description": "Served on the admin listener (loopback by default). With `admin.token` set, "
            "every request needs `Authorization: Bearer <token>`. Every answer is `Cache-Control: "
            "no-store`; every refusal is application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Unauthorized": _problem("a token is configured and the request lacks it")},
        },
        "security": [{}, {"bearer": []}],  # optional on loopback without a token; else required
    }
