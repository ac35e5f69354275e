from django.apps import AppConfig


class CareerConfig(AppConfig):
    name = "keel.career"
    label = "career"
    verbose_name = "Career engine"

    def ready(self) -> None:
        from keel.accounts.models import Role
        from keel.income.commitments import register_commitment_provider
        from keel.web.navigation import register_nav
        from keel.web.panels import register_panel

        from .offers import dashboard_panel
        from .planning import dashboard_panel as plan_panel
        from .services import milestone_commitments

        register_nav("Contracts", "career:contracts", role=Role.WORKER, order=25)
        register_nav("Offers", "career:offers", role=Role.WORKER, order=26)
        register_nav("Reputation", "career:portfolio", role=Role.WORKER, order=27)
        # The worker's MRR now and its change this month, on the dashboard.
        register_panel(
            "career.mrr", "career/offers/_dashboard_panel.html", dashboard_panel, order=20
        )
        # The current 90-day plan's progress, beside MRR.
        register_panel("career.plan", "career/plans/_dashboard_panel.html", plan_panel, order=21)
        # Milestones due count in the income forecast as scheduled payments.
        register_commitment_provider(milestone_commitments)
