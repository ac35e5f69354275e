from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "keel.gateway"
    label = "gateway"
    verbose_name = "Portable benefits gateway"

    def ready(self) -> None:
        from keel.accounts.models import Role
        from keel.api.keys import register_scope
        from keel.income.signals import income_booked
        from keel.web.navigation import register_nav

        from .services.benefits import withhold_booked_income

        register_scope("bundles:write", "offer micro-contract bundles to linked workers")
        register_nav("Benefits", "gateway:benefits", role=Role.WORKER, order=30)
        register_nav("Platform", "gateway:console", role=Role.PLATFORM_OPERATOR, order=40)
        income_booked.connect(withhold_booked_income, dispatch_uid="gateway.withholding")
        # Accepted micro-contract bundles count as committed income in the forecast.
        from keel.income.commitments import register_commitment_provider

        from .services.bundles import bundle_commitments

        register_commitment_provider(bundle_commitments)
