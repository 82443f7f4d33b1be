from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _tune_sqlite(sender, connection, **kwargs) -> None:
    """WAL lets the server write while readers (admin, jobs, tests) read."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


class GraylogicConfig(AppConfig):
    name = "graylogic"
    verbose_name = "Gray Logic"

    def ready(self) -> None:
        connection_created.connect(_tune_sqlite)
