"""A tiny template renderer: ``string.Template`` files, every value escaped unless marked safe.

Why not jinja2: it is not a dependency, and the pages need nothing but substitution. The one
rule that matters is that nothing typed by a person reaches the page unescaped, so values are
escaped by default and only ``Markup`` (HTML this package built itself) passes through as is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from functools import cache
from importlib import resources
from string import Template

__all__ = ["Markup", "attr", "escape", "join", "read_static", "render"]

_PACKAGE = "search_api.web"


class Markup(str):
    """HTML built by this package from escaped parts; inserted into templates unchanged."""

    __slots__ = ()


def escape(value: str | Markup) -> Markup:
    """Escape text for element content and (double-quoted) attribute values."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(value, quote=True))


def join(parts: Iterable[str | Markup], separator: str = "\n") -> Markup:
    return Markup(separator.join(escape(part) for part in parts))


def attr(name: str, value: str | None) -> Markup:
    """`` name="value"`` (with a leading space), or nothing when ``value`` is None."""
    if value is None:
        return Markup("")
    return Markup(f' {name}="{escape(value)}"')


@cache
def _template(name: str) -> Template:
    return Template(resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


@cache
def read_static(name: str) -> bytes:
    return resources.files(_PACKAGE).joinpath(name).read_bytes()


def render(template: str, /, **values: str | Markup) -> Markup:
    """Fill ``template`` (a file of this package); a missing value raises ``KeyError``."""
    return Markup(_template(template).substitute({k: escape(v) for k, v in values.items()}))
