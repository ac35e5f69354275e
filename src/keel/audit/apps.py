from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "keel.audit"
    label = "audit"
    verbose_name = "Security audit log"

    def ready(self) -> None:
        from keel.web.navigation import register_nav

        from . import signals

        signals.connect()
        register_nav("Audit log", "audit:events", staff_only=True, order=990)
