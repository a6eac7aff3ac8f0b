"""Textual's footer, without the two things that made every screen change keep memory for good.

A day of monitoring changes screens often (help, inspector, history), and a replay benchmark does it hundreds
of times. Textual 8's own footer and render cache each kept something per change (issue #8):

- :class:`textual.widgets.Footer` builds new key widgets on every binding change and binds each one to its
  ``compact`` flag. The binding is a watcher on the footer that is dropped only when ``compact`` changes,
  which it never does, so every key the footer ever showed stayed alive with its styles and strips.
  :class:`Footer` drops the watchers of keys that are gone after each rebuild.
- ``StylesCache.get_inner_outer`` is an ``lru_cache`` on a method that was meant to be a class method: the
  cache key is the render cache itself, so the last 1024 widgets' rendered lines outlive them.
  :func:`bound_render_caches` makes it the class method it was meant to be; it then caches one pair of
  styles per pair of colours, as intended.

Both are checked by ``tests/test_footer.py``; each patch applies only where Textual still has the defect.
"""

from __future__ import annotations

import functools

from textual._styles_cache import StylesCache
from textual.widgets import Footer as TextualFooter

WATCHERS = "__watchers"
"""Where Textual's reactive module keeps the watchers of an object (``textual.reactive._watch``)."""


def bound_render_caches() -> None:
    """Key Textual's inner/outer style cache by colours only, so it no longer keeps render caches alive."""
    method = StylesCache.__dict__.get("get_inner_outer")
    if isinstance(method, functools._lru_cache_wrapper):
        StylesCache.get_inner_outer = classmethod(method)  # type: ignore[assignment,method-assign]


class Footer(TextualFooter):
    """The key footer of every screen."""

    async def recompose(self) -> None:
        await super().recompose()
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, WATCHERS, {})
        for callbacks in watchers.values():
            callbacks[:] = [(node, callback) for node, callback in callbacks if not getattr(node, "_closing", False)]


bound_render_caches()
