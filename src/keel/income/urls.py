from django.urls import path, re_path

from . import views

app_name = "income"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sources/", views.sources, name="sources"),
    path("sources/add/", views.source_add, name="source_add"),
    path("sources/<int:source_id>/", views.source_edit, name="source_edit"),
    path("import/", views.import_upload, name="import"),
    path("import/profiles/", views.import_profiles, name="import_profiles"),
    path("import/<int:batch_id>/", views.import_preview, name="import_preview"),
    path("import/<int:batch_id>/apply/", views.import_apply, name="import_apply"),
    path("import/<int:batch_id>/progress/", views.import_progress, name="import_progress"),
    re_path(r"^month/(?P<year>\d{4})-(?P<month>\d{2})/$", views.month, name="month"),
    path("rates/", views.rates, name="rates"),
    path("rates/add/", views.rate_add, name="rate_add"),
    path("rates/upload/", views.rate_upload, name="rate_upload"),
    path("settings/", views.settings_page, name="settings"),
    path("buffer/", views.buffer_move, name="buffer_move"),
]
