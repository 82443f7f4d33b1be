"""English (en, en-gb) formats: times to the second with their zone, in 24-hour notation.

Installers read the admin to line up what a charger did with its log and its messages; Django's
default ("13 Jan 2026, 3:04 p.m.") hides the seconds that tell a heartbeat from a retry.
Pages that want less say so with an explicit `date` filter."""

DATETIME_FORMAT = "j M Y, H:i:s T"
SHORT_DATETIME_FORMAT = "d/m/Y H:i:s"
TIME_FORMAT = "H:i:s"
