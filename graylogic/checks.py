"""System checks for settings a deployment gets wrong: shown by every management command that
checks (`manage.py serve`, `migrate`, `check --deploy`)."""

from django.conf import settings
from django.core.checks import CheckMessage, Warning


def development_secret_key_check(app_configs, **kwargs) -> list[CheckMessage]:
    """The development key is public (it is in the source): with it anyone can forge a session
    cookie and log in as any user, so it must never serve outside DEBUG."""
    if settings.DEBUG or settings.SECRET_KEY != settings.DEVELOPMENT_SECRET_KEY:
        return []
    return [
        Warning(
            "SECRET_KEY is the development default, which is public: anyone can forge logins.",
            hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`; see docs/deployment.md.',
            id="graylogic.W001",
        )
    ]
