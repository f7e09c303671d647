from django.apps import AppConfig


class ParsingConfig(AppConfig):
    name = "bailanys.parsing"
    label = "parsing"
    verbose_name = "Free-text parser"

    def ready(self):
        from bailanys.parsing.models import ParsedPost
        from bailanys.parsing.retention import posts_purge
        from bailanys.privacy.registry import personal_models_register, purger_register

        personal_models_register(ParsedPost)
        purger_register(posts_purge)
