from shop.common.events.tables import EVENTS_METADATA
from shop.common.migrations import run_env
from shop.notifications.models import Base

run_env([Base.metadata, EVENTS_METADATA])
