"""Textual's footer and render cache, without what made every screen change keep memory for good, and without
footer rebuilds nobody sees (issue #8).

A day of monitoring changes screens often (help, inspector, history), and a replay benchmark does it hundreds
of times. With Textual 8:

- :class:`textual.widgets.Footer` builds new key widgets on every binding change and binds each one to its
  ``compact`` flag. The binding is a watcher on the footer that is dropped only when ``compact`` changes,
  which it never does, so every key the footer ever showed stayed alive with its styles and strips.
  :class:`Footer` drops the watchers of keys that are gone after each rebuild.
- ``StylesCache.get_inner_outer`` is an ``lru_cache`` on a method that was meant to be a class method: the
  cache key is the render cache itself, so the last 1024 widgets' rendered lines outlive them.
  :func:`bound_render_caches` makes it the class method it was meant to be; it then caches one pair of
  styles per pair of colours, as intended.
- The footer of a screen under a modal one (help, a prompt) was rebuilt when the modal opened, with the
  modal's bindings, while the key that opened it waited. :class:`Footer` is rebuilt when its screen is back
  on top, and a rebuild asked for during one runs after it, not interleaved with it.

All three are checked by ``tests/test_footer.py``; each patch applies only where Textual still has the defect.
"""

from __future__ import annotations

import functools
from typing import Any

from textual.widgets import Footer as TextualFooter

try:
    from textual._styles_cache import StylesCache
except ImportError:  # a Textual without this private module has not that cache either
    StylesCache = None  # type: ignore[assignment,misc]

WATCHERS = "__watchers"
"""Where Textual's reactive module keeps the watchers of an object (``textual.reactive._watch``)."""


def bound_render_caches() -> None:
    """Key Textual's inner/outer style cache by colours only, so it no longer keeps render caches alive."""
    method = StylesCache.__dict__.get("get_inner_outer") if StylesCache is not None else None
    if isinstance(method, functools._lru_cache_wrapper):
        StylesCache.get_inner_outer = classmethod(method)  # type: ignore[assignment,method-assign,arg-type]


class Footer(TextualFooter):
    """The key footer of every screen: rebuilt one at a time, and only while its screen is on top."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rebuilding = False
        self._again = False

    async def recompose(self) -> None:
        if self._rebuilding:  # a rebuild asked for during one runs after it, not inside it
            self._again = True
            return
        self._rebuilding = True
        try:
            self._again = True
            while self._again:
                self._again = False
                if self.is_attached and self.screen is not self.app.screen:
                    return  # under a modal screen: its bindings change again when it is back on top
                await super().recompose()
                self._drop_gone_watchers()
        finally:
            self._rebuilding = False

    def _drop_gone_watchers(self) -> None:
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, WATCHERS, {})
        for callbacks in watchers.values():
            callbacks[:] = [(node, callback) for node, callback in callbacks if not getattr(node, "_closing", False)]


bound_render_caches()
