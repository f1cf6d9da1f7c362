"""The package's Jinja2 templates (autoescaped) and its static files.

The one rule that matters is that nothing typed by a person reaches the page unescaped: every
template is HTML, so every value is escaped unless it is ``Markup`` (HTML that a template or
``display.qr_svg`` built). A name a template uses but nobody passed is an error, not an empty
string, so a misspelt value fails the tests instead of vanishing from the page.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from search_api.web.display import GENDERS
from search_api.web.forms import CHECK_FIELDS, ERA_CHOICES, FORMER_ROWS, LABELS, MAX_LENGTHS

__all__ = ["read_static", "render"]

_PACKAGE: Final = "search_api.web"

# Templates live flat in the package, next to this module (see the package's docstring).
_templates: Final = Environment(
    loader=PackageLoader(_PACKAGE, "."),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
# What the widget macros need whatever page they are on.
_templates.globals.update(
    CHECK_FIELDS=CHECK_FIELDS,
    ERA_CHOICES=ERA_CHOICES,
    FORMER_ROWS=FORMER_ROWS,
    GENDERS=GENDERS,
    LABELS=LABELS,
    MAX_LENGTHS=MAX_LENGTHS,
)


def render(template: str, /, **values: object) -> Markup:
    """Fill ``template`` (a file of this package) with ``values``, escaping each on its way in."""
    return Markup(_templates.get_template(template).render(values))


@cache
def read_static(name: str) -> bytes:
    return resources.files(_PACKAGE).joinpath(name).read_bytes()
