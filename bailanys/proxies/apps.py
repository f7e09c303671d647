from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "bailanys.proxies"
    label = "proxies"

    def ready(self):
        from bailanys.privacy.registry import personal_models_register, purger_register
        from bailanys.proxies.models import Proxy, ProxyRequester
        from bailanys.proxies.services import proxies_purge

        # Requesters are keyed hashes of numbers: personal enough to go with a wipe. The
        # proxies go too: a seized machine must not hand a censor the whole pool.
        personal_models_register(ProxyRequester)
        personal_models_register(Proxy)
        purger_register(proxies_purge)
