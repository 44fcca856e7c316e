from django.apps import AppConfig


class DemonstrationsConfig(AppConfig):
    name = "webapp.demonstrations"
    label = "demonstrations"
