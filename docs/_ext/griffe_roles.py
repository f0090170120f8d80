"""Turn the Sphinx-style roles of siting's docstrings into links of the API reference.

The docstrings are numpydoc, read by Sphinx-aware tools and by ``help()``; they refer to
other objects as ``:func:`fetch```, ``:class:`~siting.permitting.Pathway``` and so on.
mkdocstrings does not read roles, so this griffe extension rewrites each one, before the
pages are rendered, into an optional cross-reference: a link when the object is documented
on the site, plain code otherwise (for example ``:func:`pooch.retrieve```). A leading ``~``
shows the last part of the name only, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(?P<target>[^`]+)`")


def _identifier(obj: griffe.Object, target: str) -> str:
    """The full dotted path of ``target`` as seen from ``obj``'s scope (or ``target``)."""
    if target.startswith("siting."):
        return target
    head, _, rest = target.partition(".")
    try:
        resolved = obj.resolve(head)
    except Exception:  # unknown here: leave the name as written (a third-party object)
        return target
    return f"{resolved}.{rest}" if rest else resolved


def _rewrite(obj: griffe.Object, text: str) -> str:
    def link(match: re.Match[str]) -> str:
        target = match["target"].strip()
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<name>[^>]+)>", target)
        if explicit:
            title, name = explicit["title"], explicit["name"]
        else:
            name = target.lstrip("~")
            title = name.rsplit(".", 1)[-1] if target.startswith("~") else name
        identifier = _identifier(obj, name.lstrip("~").removesuffix("()"))
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return _ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring of the loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._visit(pkg, seen=set())

    def _visit(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _rewrite(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._visit(member, seen)  # type: ignore[arg-type]
