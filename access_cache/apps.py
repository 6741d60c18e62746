from django.apps import AppConfig


class AccessCacheConfig(AppConfig):
    name = "access_cache"
    verbose_name = "Access cache"
