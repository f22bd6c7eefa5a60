"""HTML pages from Jinja2 templates: one shared environment, autoescaped, with the app's filters.

Templates live in ``marketplace/templates/`` (``base.html.j2`` is the layout every page extends) and
static assets in ``marketplace/static/``; both ship as package data. Every value a template prints is
HTML-escaped unless it is :class:`markupsafe.Markup`; the only Markup this module makes is a static
asset's text (:func:`inline_css`), never data. Undefined names raise instead of printing nothing.

Compiled templates and asset texts are cached for the life of the process (templates are not
re-read when they change on disk: restart to pick up an edit).

Imports nothing from the rest of the app but :mod:`marketplace.formatting`.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from marketplace import formatting

__all__ = ["environment", "inline_css", "render", "static_text"]


def _g(x: float) -> str:
    """Python's general number format: ``0.6`` -> "0.6", ``3.0`` -> "3"."""
    return f"{x:g}"


def _and_sep(loop: jinja2.runtime.LoopContext) -> str:
    """In ``{% for %}``: what follows the current item of "a, b and c" (", ", " and " or nothing)."""
    return " and " if loop.revindex == 2 else "" if loop.last else ", "


FILTERS = {
    "pounds": formatting.pounds,
    "whole": formatting.whole,
    "score": formatting.score,
    "score_against": formatting.score_against,
    "pct": formatting.percent,
    "date": formatting.date,
    "uk_when": formatting.uk_when,
    "humanise": formatting.humanise,
    "lower_code": formatting.lower_code,
    "plural": formatting.plural,
    "closing_day": formatting.closing_day,
    "ages": formatting.ages,
    "and_list": formatting.and_list,
    "shorten": formatting.shorten,
    "coord": formatting.coord,
    "arrows": formatting.arrows,
    "g": _g,
    "and_sep": _and_sep,
}


@functools.cache
def static_text(name: str) -> str:
    """The text of ``marketplace/static/<name>`` (read once per process)."""
    return resources.files("marketplace").joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def inline_css(name: str) -> Markup:
    """A static style sheet's text, to put inside a ``<style>`` element of a self-contained page."""
    text = static_text(name)
    if "</" in text or "<!--" in text:  # could close the element or open a comment: not a style sheet we ship
        raise ValueError(f"static/{name} contains markup")
    return Markup(text)  # noqa: S704 - a file of the package, not data


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment (created on first use)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("marketplace", "templates"),
        autoescape=jinja2.select_autoescape(("html", "htm", "xml", "svg", "j2"), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    env.globals["inline_css"] = inline_css
    return env


def render(template_name: str, /, **context: Any) -> str:
    """Render ``marketplace/templates/<template_name>`` with ``context``."""
    return environment().get_template(template_name).render(**context)
