from django.apps import AppConfig


class ParsingConfig(AppConfig):
    name = "bailanys.parsing"
    label = "parsing"
    verbose_name = "Free-text parser"
