from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "keel.web"
    label = "web"
    verbose_name = "Web"
