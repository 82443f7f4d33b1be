"""Date and time formats that override Django's locale defaults (settings.FORMAT_MODULE_PATH)."""
