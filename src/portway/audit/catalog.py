"""What a workload is, told from evidence: its image, the program it runs, the ports it listens on.

Evidence, strongest first:
1. the image's name (then its namespace: `mcr.microsoft.com/mssql/server`), by whole words, so
   `bitnami/postgresql`, `confluentinc/cp-kafka` are found and `postgres-exporter`,
   `mongo-express`, `redis-commander` (tools *around* a store) are not stores;
   an image built from source (`build:`) names the project's own software, not evidence;
2. the program its command runs (`redis-server`, `mysqld`, `etcd`, `kafka-server-start.sh`), when
   the image says nothing (a base image such as `alpine`, `python`, or a built one);
3. a data store's well-known port it listens on (5432, 6379, 9092, 2181…), under the same condition
   (an image whose name names no known software says nothing);
4. for a built service, its name when that is a store's name or ends in `db` (`users-db`), never a
   word inside a longer name (`etl-kafka` is a consumer, not a broker).
Metrics and coordination stores (Prometheus, Loki, ZooKeeper, etcd, Consul) count as data stores:
they hold or control the system's data and take writes without authentication by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from portway.audit.images import ImageRef, parse_image

# word of an image name (or a program) -> kind of data store
DATASTORES: dict[str, str] = {
    **dict.fromkeys(
        [
            "postgres", "postgresql", "postgis", "timescaledb", "pgvector", "mysql", "mariadb",
            "percona", "mongo", "mongodb", "mongod", "clickhouse", "cassandra", "scylla", "scylladb",
            "couchdb", "couchbase", "influxdb", "neo4j", "cockroach", "cockroachdb", "mssql",
            "oracle", "questdb", "minio", "arangodb", "yugabyte", "surrealdb", "rethinkdb", "mysqld",
            "dynamodb", "qdrant", "weaviate", "milvus", "chromadb", "db", "database",
        ],
        "database",
    ),
    **dict.fromkeys(["redis", "valkey", "keydb", "memcached", "dragonfly", "hazelcast"], "cache"),
    **dict.fromkeys(
        [
            "nats", "rabbitmq", "kafka", "redpanda", "pulsar", "activemq", "artemis", "mosquitto",
            "emqx", "vernemq", "nsq", "nsqd",
        ],
        "broker",
    ),
    **dict.fromkeys(["elasticsearch", "opensearch", "solr", "meilisearch", "typesense"], "search"),
    **dict.fromkeys(
        ["prometheus", "victoriametrics", "loki", "mimir", "thanos", "tempo", "graphite"], "metrics"
    ),
    **dict.fromkeys(["zookeeper", "etcd", "consul"], "coordination"),
}  # fmt: skip
DATASTORE_KINDS = ("database", "cache", "broker", "search", "metrics", "coordination")

# Words that mark a tool *around* a data store, not the store itself.
NOT_A_DATASTORE = {
    "exporter", "admin", "adminer", "pgadmin", "pgadmin4", "ui", "dashboard", "commander", "backup",
    "migrate", "migrations", "migrator", "init", "seed", "setup", "proxy", "bouncer", "pgbouncer",
    "insight", "redisinsight", "express", "console", "kafdrop", "akhq", "connect", "rest",
    "registry", "operator", "agent", "cli", "client", "tools", "browser", "studio", "web",
    "manager", "gui", "pushgateway", "alertmanager", "exporters", "beat", "metricbeat", "sync",
    "template", "esm",
}  # fmt: skip

# Images that say nothing about what runs in them: the command and ports decide.
BASE_IMAGES = {
    "alpine", "ubuntu", "debian", "busybox", "centos", "fedora", "rockylinux", "almalinux",
    "python", "node", "golang", "openjdk", "eclipse", "temurin", "amazoncorretto", "ruby", "php",
    "bash", "distroless", "scratch", "minideb", "ubi", "ubi8", "ubi9", "java", "dotnet", "runtime",
}  # fmt: skip

# program (basename of argv[0]) -> kind
PROGRAMS: dict[str, str] = {
    "postgres": "database", "postmaster": "database", "mysqld": "database", "mariadbd": "database",
    "mongod": "database", "mongos": "database", "clickhouse-server": "database",
    "redis-server": "cache", "valkey-server": "cache", "keydb-server": "cache",
    "memcached": "cache", "dragonfly": "cache", "nats-server": "broker", "rabbitmq-server": "broker",
    "kafka-server-start.sh": "broker", "kafka-server-start": "broker", "redpanda": "broker",
    "rpk": "broker", "mosquitto": "broker", "elasticsearch": "search", "opensearch": "search",
    "prometheus": "metrics", "loki": "metrics", "zookeeper-server-start.sh": "coordination",
    "zkserver.sh": "coordination", "etcd": "coordination", "consul": "coordination",
    "influxd": "database", "minio": "database", "cockroach": "database",
}  # fmt: skip

# container port -> kind, for ports no other software claims
WELL_KNOWN_PORTS: dict[int, str] = {
    5432: "database", 3306: "database", 27017: "database", 27018: "database", 1433: "database",
    1521: "database", 9042: "database", 7687: "database", 26257: "database", 5984: "database",
    8529: "database", 28015: "database", 8086: "database", 6379: "cache", 11211: "cache",
    9092: "broker", 9093: "broker", 9644: "broker", 5672: "broker", 4222: "broker", 1883: "broker",
    9200: "search", 9300: "search", 2181: "coordination", 2379: "coordination",
    2380: "coordination", 8500: "coordination",
}  # fmt: skip

GATEWAYS = {
    "portway", "gateway", "traefik", "nginx", "openresty", "haproxy", "envoy", "caddy", "kong",
    "tyk", "krakend", "apisix", "ingress", "proxy", "edge", "pingora", "varnish", "swag",
}  # fmt: skip

_WORD = re.compile(r"[a-z0-9]+")


def _kind(words: Sequence[str]) -> str | None:
    """The data store kind the words name, "" when they name a tool around one, None when neither."""
    if any(word in NOT_A_DATASTORE for word in words):
        return ""
    return next((DATASTORES[word] for word in words if word in DATASTORES and word != "db"), None)


def image_kind(ref: ImageRef | None) -> str | None:
    """What the image says: a kind, "" (something else), None (nothing: a base image, no image)."""
    if ref is None:
        return None
    kind = _kind(ref.name_words)
    if kind is None and ref.namespace:
        kind = _kind(ref.namespace_words)
    if kind is None and set(ref.name_words + ref.namespace_words) & GATEWAYS:
        return ""  # known software that is not a store
    return kind  # None for an image whose name says nothing (a base image, a project's own)


def program_kind(words: Sequence[str]) -> str | None:
    """The store a command runs (`redis-server --port 6380`, `docker-entrypoint.sh postgres`)."""
    for word in words[:3]:
        program = word.rsplit("/", 1)[-1].lower()
        if program in PROGRAMS:
            return PROGRAMS[program]
    return None


def port_kind(container_ports: Iterable[int]) -> str | None:
    return next((WELL_KNOWN_PORTS[p] for p in container_ports if p in WELL_KNOWN_PORTS), None)


def datastore_kind(
    image: str,
    name: str,
    *,
    built: bool = False,
    command: Sequence[str] = (),
    container_ports: Iterable[int] = (),
) -> str:
    """The kind of data store the evidence shows, "" when it shows something else or nothing."""
    ref = None if built else parse_image(image)
    kind = image_kind(ref)
    if kind is not None:
        return kind
    for evidence in (program_kind(command), port_kind(container_ports)):
        if evidence:
            return evidence
    return _name_kind(name) if built or not image else ""


def _name_kind(name: str) -> str:
    words = _WORD.findall(name.lower())
    if not words or any(word in NOT_A_DATASTORE for word in words):
        return ""
    if len(words) == 1 and words[0] in DATASTORES:
        return DATASTORES[words[0]]
    return "database" if words[-1] in ("db", "database") or words[-1].endswith("db") else ""


def looks_like_gateway(image: str, name: str, built: bool = False) -> bool:
    words = set(_WORD.findall(name.lower()))
    ref = None if built else parse_image(image)
    if ref is not None:
        words |= set(ref.name_words) | set(ref.namespace_words)
    return bool(words & GATEWAYS) and not words & {"exporter", "ui", "admin"}


def gateway_software(image: str) -> str:
    """Which gateway the image is ("traefik", "envoy", …), "" when not a known one."""
    ref = parse_image(image)
    if ref is None:
        return ""
    words = ref.name_words + ref.namespace_words
    if "nginx" in words and "manager" in words:
        return "nginx-proxy-manager"
    return next((word for word in words if word in GATEWAYS), "")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


# Debuggers' listening ports: whoever reaches one runs code in the process. Only ports no common
# software serves on its own count by number alone; debugpy (5678, also n8n's port) and Delve
# (2345) count when the command opens them.
DEBUG_PORTS: dict[int, str] = {
    5005: "JDWP (Java debugger)", 9229: "Node.js inspector", 9230: "Node.js inspector",
    5858: "Node.js debugger",
}  # fmt: skip
# Flags that open a debugger on a port: `--inspect=0.0.0.0:9229`, `-agentlib:jdwp=…address=*:5005`.
_DEBUG_FLAGS = re.compile(
    r"(--inspect(?:-brk)?(?:=|\s+)|jdwp=\S*address=|debugpy\S*\s+--listen\s+|dlv\S*\s.*--listen[=\s]+)"
    r"(?:[\w.*\[\]:]*:)?(?P<port>\d{2,5})"
)
# gateway software -> (container port -> what it serves besides traffic)
GATEWAY_ADMIN_PORTS: dict[str, dict[int, str]] = {
    "traefik": {8080: "Traefik API and dashboard", 8082: "Traefik metrics"},
    "envoy": {9901: "Envoy admin interface"},
    "kong": {8001: "Kong Admin API", 8444: "Kong Admin API", 8002: "Kong Manager", 8445: "Kong Manager"},
    "haproxy": {8404: "HAProxy stats page", 1936: "HAProxy stats page", 9999: "HAProxy stats page"},
    "caddy": {2019: "Caddy admin API"},
    "apisix": {9180: "APISIX Admin API", 9000: "APISIX dashboard", 9091: "APISIX metrics"},
    "tyk": {9696: "Tyk control API"},
    "krakend": {8090: "KrakenD metrics"},
    "nginx-proxy-manager": {81: "Nginx Proxy Manager admin UI"},
    "varnish": {6082: "Varnish admin CLI"},
}


def debug_ports(command: Sequence[str]) -> dict[int, str]:
    """Ports the command opens a debugger on, by its flags."""
    found: dict[int, str] = {}
    for match in _DEBUG_FLAGS.finditer(" ".join(command)):
        flag = match.group(1)
        name = "Node.js inspector" if "inspect" in flag else "JDWP (Java debugger)" if "jdwp" in flag else ""
        name = name or ("debugpy (Python debugger)" if "debugpy" in flag else "Delve (Go debugger)")
        found[int(match["port"])] = name
    return found


def gateway_admin_port(software: str, port: int, command: Sequence[str]) -> str:
    """What a gateway's port serves besides traffic ("" when it is a traffic port)."""
    purpose = GATEWAY_ADMIN_PORTS.get(software, {}).get(port, "")
    text = " ".join(command)
    if (
        software == "traefik"
        and port == 8080
        and re.search(r"entry[pP]oints\.[\w-]+\.address=[^ ]*:8080\b", text)
    ):
        return ""  # the file made 8080 a traffic entrypoint
    return purpose
