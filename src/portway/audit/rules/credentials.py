"""Credentials written into deploy files: inline, well-known, or authentication turned off.

A value counts as written in the file when text remains after `${VAR}` references are taken out;
the default of `${VAR:-default}` counts, since it is what runs when VAR is unset. Reports never
repeat a secret, only well-known defaults (which are public anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from portway.audit import catalog
from portway.audit.findings import Finding, Location, Rule, Severity
from portway.audit.model import EnvVar, Role, Stack, Workload

INLINE = Rule(
    "PW020",
    "Credential written inline",
    Severity.WARNING,
    "Use a Docker secret (`POSTGRES_PASSWORD_FILE: /run/secrets/db_password`), a `${VAR}` taken from "
    "the deploying environment, or in Kubernetes `valueFrom.secretKeyRef`.",
)
WELL_KNOWN = Rule(
    "PW021",
    "Default or well-known credential",
    Severity.ERROR,
    "Generate a strong secret per deployment and pass it as a Docker/Kubernetes secret.",
)
AUTH_DISABLED = Rule(
    "PW022",
    "Authentication turned off",
    Severity.ERROR,
    "Remove the setting: give the data store a password from a secret instead.",
)
COMMITTED_SECRET = Rule(
    "PW023",
    "Kubernetes Secret manifest holds its values",
    Severity.WARNING,
    "Create the Secret out of band (`kubectl create secret`, sealed-secrets, an external secret store) "
    "and keep only references in the manifests.",
)
RULES = (INLINE, WELL_KNOWN, AUTH_DISABLED, COMMITTED_SECRET)

# Published defaults: the values images, vendors and their documentation ship or show, which
# deployments keep. Compared case-insensitively with the whole value.
WELL_KNOWN_VALUES = {
    "password", "passw0rd", "p@ssw0rd", "p@ssword", "password1", "password123", "pass", "pass123",
    "postgres", "root", "toor", "admin", "admin123", "admin1234", "administrator", "changeme",
    "change_me", "change-me", "changeit", "secret", "secret123", "supersecret", "s3cr3t", "guest",
    "example", "examplepass", "test", "test123", "testing", "1234", "12345", "123456", "12345678",
    "default", "letmein", "welcome", "qwerty", "mysql", "mongo", "mongodb", "redis", "rabbitmq",
    "user", "demo", "dev", "development", "insecure", "notsecret", "mysecretpassword",
    "my-secret-pw", "mypassword", "somewordpress", "wordpress", "minioadmin", "minio123",
    "neo4j", "neo4j/neo4j", "yourstrong@passw0rd", "yourstrong(!)password", "yourstrongpassword",
    "strong!passw0rd", "elastic", "kibana", "keycloak", "airflow", "superset", "grafana",
    "sonar", "gitea", "nextcloud", "odoo", "docker", "portainer", "zabbix", "couchdb",
}  # fmt: skip
# Placeholders: text that stands for a value to fill in, not one anybody runs with.
_PLACEHOLDER = re.compile(
    r"^(<[^>]*>|\[[^\]]*\]|\{\{.*\}\}|x{3,}|\*{3,}|\.{3,}|_{3,}|-{3,}|todo|fixme|tbd|none|null|"
    r"placeholder|your[-_ ].*|.*[-_ ](here|goes[-_ ]here)|replace[-_ ]?(me|this|with.*)|"
    r"insert[-_ ].*|enter[-_ ].*|set[-_ ]?me|fill[-_ ]?(me|in)|secret[-_]?(goes|here)|\$\w*)$",
    re.IGNORECASE,
)
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH_?KEY"
    r"|SIGNING_?KEY|ENCRYPTION_?KEY|(^|_)PASS$|(^|_)PWD$",
    re.IGNORECASE,
)
# Names that mention a secret but hold something else: where it is, how long it lives…
_NOT_A_SECRET = re.compile(
    r"(_FILE|_PATH|_DIR|_LENGTH|_TTL|_TIMEOUT|_EXPIRY|_EXPIRES|_ENABLED|_REQUIRED|_URL|_URI|_HOST|_PORT"
    r"|_NAME|_ALGORITHM|_ISSUER|_AUDIENCE|_TYPE|_METHOD|_MINUTES|_SECONDS|_HOURS|_DAYS|_LIFETIME"
    r"|_ROUNDS|_COST|_SIZE|_MAX|_MIN|_COUNT|_ID|_USER|_USERNAME|_MODE|_PROVIDER|_BACKEND|_HEADER"
    r"|_PREFIX|_POLICY|_STRATEGY|_VERSION)$|RANDOM_ROOT_PASSWORD|PASSWORD_RESET|ALLOW_EMPTY",
    re.IGNORECASE,
)
# Switch values: a variable named like a secret that holds one of these is a setting.
_SWITCHES = {"yes", "no", "true", "false", "0", "1", "on", "off", "none", "required", "optional"}
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]*:(?P<password>[^@/\s]+)@", re.IGNORECASE)
# `$$` (an escaped dollar), `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$VAR`,
# and Kubernetes' `$(VAR)`, which refers to another variable of the container.
_REFERENCE = re.compile(
    r"(?P<dollar>\$\$)|\$\{(?P<name>[^}:?-]*)(?::?-(?P<default>[^}]*))?[^}]*\}"
    r"|\$[A-Za-z_][A-Za-z0-9_]*|\$\([A-Za-z_][A-Za-z0-9_]*\)"
)
_TRUE = {"true", "yes", "1", "on"}
# (variable, values that turn authentication off)
_AUTH_OFF = {
    "POSTGRES_HOST_AUTH_METHOD": {"trust"},
    "POSTGRESQL_HOST_AUTH_METHOD": {"trust"},
    "AUTH_TYPE": {"trust", "any"},  # PgBouncer images
    "PGBOUNCER_AUTH_TYPE": {"trust", "any"},
    "MYSQL_ALLOW_EMPTY_PASSWORD": _TRUE,
    "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": _TRUE,
    "MARIADB_ALLOW_EMPTY_PASSWORD": _TRUE,
    "ALLOW_EMPTY_PASSWORD": _TRUE,
    "ALLOW_ANONYMOUS_LOGIN": _TRUE,  # Bitnami ZooKeeper
    "ALLOW_PLAINTEXT_LISTENER": _TRUE,  # Bitnami Kafka without SASL
    "XPACK.SECURITY.ENABLED": {"false"},
    "XPACK_SECURITY_ENABLED": {"false"},
    "DISABLE_SECURITY_PLUGIN": _TRUE,
    "PLUGINS.SECURITY.DISABLED": _TRUE,
    "NEO4J_AUTH": {"none"},
    "GF_AUTH_DISABLE_LOGIN_FORM": _TRUE,
    "JUPYTER_TOKEN": {""},
    "REDIS_PROTECTED_MODE": {"no"},
}
# Command-line switches that turn authentication off (`-Expack.security.enabled=false`, …).
_AUTH_OFF_FLAGS = re.compile(
    r"^(-E)?xpack\.security\.enabled=false$|^--skip-grant-tables$|^--(NotebookApp|ServerApp|"
    r"IdentityProvider)\.(token|password)=(''|\"\")?$|^plugins\.security\.disabled=true$",
    re.IGNORECASE,
)
_PASSWORD_FLAGS = {"--requirepass", "--masterauth", "--password"}
# A value the container computes when it starts: a shell substitution, a variable of its own.
_RUNTIME = re.compile(r"\$\(|`|\$\{?[A-Za-z_]|/run/secrets/|^/[\w./-]+$")


def written_value(value: str) -> str:
    """What the value is when no variable it references is set: `${A:-x}y$B` -> `xy`."""
    return _REFERENCE.sub(lambda m: "$" if m["dollar"] else m["default"] or "", value)


def check(stack: Stack) -> Iterator[Finding]:
    for workload in stack.workloads:
        yield from _environment(workload)
        yield from _arguments(workload)
        yield from _open_store(workload)
    for secret in stack.committed_secrets:
        yield Finding(
            COMMITTED_SECRET,
            secret.location,
            secret.value,
            f"Secret `{secret.value}` carries its values in the manifest",
        )


def _environment(workload: Workload) -> Iterator[Finding]:
    for env in workload.env:
        if env.value is None:
            continue
        off_values = _AUTH_OFF.get(env.name.upper())
        if off_values is not None and env.value.strip().lower() in off_values:
            yield Finding(
                AUTH_DISABLED,
                env.location,
                workload.name,
                f"`{env.name}={env.value}` lets anyone connect to `{workload.name}` without a password",
            )
        elif _SECRET_NAME.search(env.name) and not _NOT_A_SECRET.search(env.name):
            written = env.value if env.raw is None else env.raw
            yield from _credential(workload, f"`{env.name}`", written, env.location, env.from_env_file)
            if (
                env.raw is not None
                and env.env_sources
                and not list(_credential(workload, "", written, env.location, True))
            ):
                yield from _from_dotenv(workload, env)
        for match in _URL_PASSWORD.finditer(env.value if env.raw is None else env.raw):
            yield from _credential(
                workload,
                f"the password in `{env.name}`'s URL",
                match["password"],
                env.location,
                env.from_env_file,
            )


def _arguments(workload: Workload) -> Iterator[Finding]:
    words = workload.arguments
    for index, word in enumerate(words):
        flag, equals, inline_value = word.value.partition("=")
        if flag in _PASSWORD_FLAGS:
            value = inline_value if equals else (words[index + 1].value if index + 1 < len(words) else "")
            yield from _credential(workload, f"`{flag}`", value, word.location, from_env_file=False)
        elif _AUTH_OFF_FLAGS.match(word.value):
            yield Finding(
                AUTH_DISABLED,
                word.location,
                workload.name,
                f"`{word.value}` lets anyone use `{workload.name}` without authenticating",
            )
        elif word.value == "--protected-mode" and index + 1 < len(words) and words[index + 1].value == "no":
            yield Finding(
                AUTH_DISABLED,
                word.location,
                workload.name,
                f"`--protected-mode no` lets `{workload.name}` accept unauthenticated remote clients",
            )


def _credential(
    workload: Workload, what: str, value: str, location: Location, from_env_file: bool
) -> Iterator[Finding]:
    written = written_value(value).strip().strip("'\"")
    if not written or written.lower() in _SWITCHES:
        return
    if _PLACEHOLDER.match(written) or _RUNTIME.search(written):
        return  # nothing written, a placeholder, or read by the container when it starts
    if written.lower() in WELL_KNOWN_VALUES:
        yield Finding(
            WELL_KNOWN,
            location,
            workload.name,
            f"{what} of `{workload.name}` is the well-known value `{written}`",
        )
    elif not from_env_file:  # an env file is where secrets belong; only well-known values are wrong there
        yield Finding(INLINE, location, workload.name, f"{what} of `{workload.name}` is written in the file")


def _from_dotenv(workload: Workload, env: EnvVar) -> Iterator[Finding]:
    """`${DB_PASSWORD}` whose value, committed in the project's `.env`, is a published default."""
    value = env.value.strip() if env.value else ""
    if value.lower() in WELL_KNOWN_VALUES:
        source = env.env_sources[0]
        yield Finding(
            WELL_KNOWN,
            env.location,
            workload.name,
            f"`{env.name}` of `{workload.name}` is the well-known value `{value}` (set in {source})",
        )


def _open_store(workload: Workload) -> Iterator[Finding]:
    """Stores that start without authentication unless told otherwise, when reachable from outside."""
    if workload.role is not Role.DATASTORE or not workload.public_exposures:
        return
    words = set(catalog.words(workload.image)) | {a.value.rsplit("/", 1)[-1] for a in workload.arguments}
    names = {env.name.upper() for env in workload.env if env.value is None or env.value.strip()}
    command = [a.value for a in workload.arguments]
    missing = ""
    if words & {"redis", "redis-server", "valkey", "valkey-server"} and "bitnami" not in words:
        configured = any(c.endswith(".conf") for c in command)
        if not configured and "--requirepass" not in command and not names & _REDIS_PASSWORDS:
            missing = "no `requirepass`"
    elif words & {"mongo", "mongod"} and "bitnami" not in words:
        if "--auth" not in command and "MONGO_INITDB_ROOT_USERNAME" not in names:
            missing = "no root user (`MONGO_INITDB_ROOT_USERNAME`) and no `--auth`"
    elif words & {"memcached"}:
        missing = "memcached has no authentication without SASL"
    if missing:
        yield Finding(
            AUTH_DISABLED,
            workload.location,
            workload.name,
            f"{workload.datastore} `{workload.name}` is reachable from outside and accepts anyone: {missing}",
        )


_REDIS_PASSWORDS = {"REDIS_PASSWORD", "REDIS_ARGS", "REDIS_EXTRA_FLAGS", "VALKEY_PASSWORD"}
