"""Input topics from the settings: "{prefix}/site/{site}/readings" and the like, where each
placeholder is one whole topic level."""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

SITE = "{site}"


@dataclass(frozen=True)
class TopicMatch:
    site: str | None  # the {site} level, None when the pattern has none
    rest: str | None  # one level past the pattern (e.g. a reading's name), or None


@dataclass(frozen=True)
class TopicPattern:
    levels: tuple[str, ...]

    @classmethod
    def parse(cls, template: str, *, prefix: str, setting: str) -> "TopicPattern":
        levels = tuple(template.strip("/").replace("{prefix}", prefix).split("/"))
        for level in levels:
            if level != SITE and any(c in level for c in "{}+#"):
                raise ImproperlyConfigured(
                    f"{setting}={template!r}: only {{prefix}} and {{site}} may stand in it, each as a whole level"
                )
        if not all(levels):
            raise ImproperlyConfigured(f"{setting}={template!r} has an empty level")
        return cls(levels)

    @property
    def subscription(self) -> str:
        return "/".join("+" if level == SITE else level for level in self.levels)

    @property
    def has_site(self) -> bool:
        return SITE in self.levels

    def match(self, topic: str, *, allow_rest: bool = False) -> TopicMatch | None:
        parts = topic.split("/")
        size = len(self.levels)
        if len(parts) != size and not (allow_rest and len(parts) == size + 1):
            return None
        site = None
        for pattern, part in zip(self.levels, parts, strict=False):
            if pattern == SITE:
                site = part
            elif pattern != part:
                return None
        return TopicMatch(site=site, rest=parts[size] if len(parts) > size else None)


@dataclass(frozen=True)
class Publication:
    """A retained topic as the bridge publishes it."""

    topic: str
    payload: dict
    retain: bool = True
    qos: int = 1
    # Keys that change on every build (the timestamp): a payload differing only in these is
    # not published again.
    volatile: tuple[str, ...] = ()
