from shop.catalog.models import Base
from shop.common.events.tables import EVENTS_METADATA
from shop.common.migrations import run_env

run_env([Base.metadata, EVENTS_METADATA])
