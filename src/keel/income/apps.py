from django.apps import AppConfig


class IncomeConfig(AppConfig):
    name = "keel.income"
    label = "income"
    verbose_name = "Income portfolio"

    def ready(self) -> None:
        from keel.accounts.models import Role
        from keel.web.navigation import register_nav

        # Income is a worker's page; platform operators and pool stewards do not earn here.
        register_nav("Income", "income:dashboard", role=Role.WORKER, order=20)
