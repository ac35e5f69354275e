from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LedgerConfig(AppConfig):
    name = "keel.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from .guards import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="keel-ledger-guards")
