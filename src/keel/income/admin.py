from django.contrib import admin

from .models import ExchangeRate, ImportBatch, ImportProfileRecord, IncomeItem, Source, Stream


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "worker", "kind", "default_stream", "currency")
    search_fields = ("name", "worker__email")


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "source", "kind")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("on", "base", "quote", "rate", "worker", "origin")
    list_filter = ("base", "quote", "origin")


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "worker", "format", "filename", "status")
    list_filter = ("status", "format")
    readonly_fields = ("summary",)


@admin.register(IncomeItem)
class IncomeItemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: income items move money through the ledger, never through the admin."""

    list_display = ("occurred_on", "worker", "source", "kind", "gross", "fee", "net", "currency")
    list_filter = ("kind", "currency")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ImportProfileRecord)
class ImportProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "worker")
    search_fields = ("name", "worker__email")
