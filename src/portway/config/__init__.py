"""Gateway configuration: YAML → validated, frozen pydantic models."""

from portway.config.errors import ConfigError, ConfigProblem
from portway.config.loader import load_config, parse_config
from portway.config.models import GatewayConfig

__all__ = ["ConfigError", "ConfigProblem", "GatewayConfig", "load_config", "parse_config"]
