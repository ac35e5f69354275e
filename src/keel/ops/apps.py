import logging

from django.apps import AppConfig
from django.conf import settings


class OpsConfig(AppConfig):
    name = "keel.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        if settings.KEEL_LOG_FORMAT == "json":
            # Python's warnings go to stderr in their own format; as log records they come
            # out as JSON like every other line.
            logging.captureWarnings(True)
