from django.apps import AppConfig


class CareerConfig(AppConfig):
    name = "keel.career"
    label = "career"
    verbose_name = "Career engine"

    def ready(self) -> None:
        from keel.accounts.models import Role
        from keel.income.commitments import register_commitment_provider
        from keel.web.navigation import register_nav

        from .services import milestone_commitments

        register_nav("Contracts", "career:contracts", role=Role.WORKER, order=25)
        # Milestones due count in the income forecast as scheduled payments.
        register_commitment_provider(milestone_commitments)
