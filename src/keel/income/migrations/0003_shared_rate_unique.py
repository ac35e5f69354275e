from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import Max


def drop_duplicate_shared_rates(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Keep the newest of each set of shared rates for one pair and day (the copies came
    from loads that the old constraint could not stop), so the new constraint can hold."""
    rate_model = apps.get_model("income", "ExchangeRate")
    shared = rate_model.objects.filter(worker__isnull=True)
    keep = shared.values("base", "quote", "on").annotate(newest=Max("id")).values("newest")
    shared.exclude(id__in=keep).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("income", "0002_import_checking_and_failed"),
    ]

    operations = [
        migrations.RunPython(drop_duplicate_shared_rates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="exchangerate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("worker__isnull", True)),
                fields=("base", "quote", "on"),
                name="income_rate_unique_shared",
            ),
        ),
    ]
