"""Which images are data stores or gateways, told from the image name (or the service name when
a service is built from source). Matching is by whole words of the repository path, so
`bitnami/postgresql:16`, `clickhouse/clickhouse-server` and `confluentinc/cp-kafka` are found
while `postgres-exporter` is not mistaken for a database.
"""

from __future__ import annotations

import re

# word in the image path or service name -> kind of data store
DATASTORES: dict[str, str] = {
    **dict.fromkeys(
        [
            "postgres",
            "postgresql",
            "postgis",
            "timescaledb",
            "mysql",
            "mariadb",
            "percona",
            "mongo",
            "mongodb",
            "clickhouse",
            "cassandra",
            "scylla",
            "scylladb",
            "couchdb",
            "couchbase",
            "influxdb",
            "neo4j",
            "cockroach",
            "cockroachdb",
            "mssql",
            "oracle",
            "questdb",
            "db",
            "database",
            "etcd",
            "minio",
            "arangodb",
            "yugabyte",
            "surrealdb",
        ],
        "database",
    ),
    **dict.fromkeys(["redis", "valkey", "keydb", "memcached", "dragonfly", "hazelcast"], "cache"),
    **dict.fromkeys(
        [
            "nats",
            "rabbitmq",
            "kafka",
            "zookeeper",
            "redpanda",
            "pulsar",
            "activemq",
            "artemis",
            "mosquitto",
            "emqx",
            "vernemq",
            "nsq",
            "nsqd",
        ],
        "broker",
    ),
    **dict.fromkeys(["elasticsearch", "opensearch", "solr", "meilisearch", "typesense"], "search"),
}

# Words that mark a tool *around* a data store, not the store itself.
NOT_A_DATASTORE = {
    "exporter",
    "admin",
    "adminer",
    "pgadmin",
    "ui",
    "dashboard",
    "commander",
    "backup",
    "migrate",
    "migrations",
    "migrator",
    "init",
    "seed",
    "setup",
    "proxy",
    "bouncer",
    "pgbouncer",
    "insight",
}

GATEWAYS = {
    "portway",
    "gateway",
    "traefik",
    "nginx",
    "openresty",
    "haproxy",
    "envoy",
    "caddy",
    "kong",
    "tyk",
    "krakend",
    "apisix",
    "ingress",
    "proxy",
    "edge",
}

_WORD = re.compile(r"[a-z0-9]+")


def _image_words(image: str) -> list[str]:
    """Words of the image's repository name (`mcr.microsoft.com/mssql/server:2022` -> mssql, server)."""
    repository = image.lower().rsplit("@", 1)[0]
    parts = repository.split("/")
    parts[-1] = parts[-1].split(":", 1)[0]  # the tag; a registry's :port sits in an earlier part
    # The last part names the software; the one before it only when it is not a registry host.
    named = parts[-2:] if len(parts) > 1 and "." not in parts[-2] and ":" not in parts[-2] else parts[-1:]
    return _WORD.findall(" ".join(named))


def _kind(words: list[str]) -> str | None:
    """The data store kind the words name, "" when they name a tool around one, None when neither."""
    if any(word in NOT_A_DATASTORE for word in words):
        return ""
    return next((DATASTORES[word] for word in words if word in DATASTORES), None)


def datastore_kind(image: str, name: str) -> str:
    """ "database", "cache", "broker" or "search" when the image (else the name) is one; else ""."""
    kind = _kind(_image_words(image)) if image else None
    if kind is None:
        kind = _kind(_WORD.findall(name.lower()))
    return kind or ""


def looks_like_gateway(image: str, name: str) -> bool:
    words = set(_WORD.findall(name.lower())) | set(_image_words(image))
    return bool(words & GATEWAYS)
