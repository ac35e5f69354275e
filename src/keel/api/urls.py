from django.urls import path

from . import views

app_name = "api_keys"
urlpatterns = [
    path("", views.key_list, name="list"),
    path("create/", views.key_create, name="create"),
    path("<int:key_id>/revoke/", views.key_revoke, name="revoke"),
]
