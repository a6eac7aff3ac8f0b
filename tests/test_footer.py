"""Screen changes keep no memory: the footer's old keys and removed widgets' render caches are freed (issue #8)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import ClassVar

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widget import Widget
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from meterui.widgets.footer import Footer, bound_render_caches
from tests.apputil import replay_app, run_async

DATA = Path(__file__).parent / "data"


@run_async
async def test_opening_and_closing_help_leaves_no_footer_keys_behind() -> None:
    app = replay_app(DATA / "hdlc_vectors.hex")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        shown = len(app.screen.query(FooterKey))
        assert shown > 3  # the live screen's footer shows its keys
        for _ in range(12):
            await pilot.press("question_mark")
            await pilot.pause(0.05)
            await pilot.press("escape")
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        assert len(app.screen.query(FooterKey)) == shown
        # Textual's footer kept every key it ever built (12 rebuilds × the keys); ours keeps those on screen
        assert alive(FooterKey) == shown


class _Keys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("a", "bell", "One"), ("b", "bell", "Two")]

    def compose(self) -> ComposeResult:
        yield Footer()


@run_async
async def test_the_footer_drops_the_watchers_of_keys_it_rebuilt() -> None:
    app = _Keys()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = app.query_one(Footer)
        for _ in range(5):
            app.refresh_bindings()  # the footer rebuilds its keys, as on every focus or screen change
            await pilot.pause(0.05)
        watchers = getattr(footer, "__watchers", {}).get("compact", [])
        keys = list(app.query(FooterKey))
        assert keys  # the app's keys a and b are shown
        assert {id(node) for node, _ in watchers} <= {id(key) for key in keys}


class _Removable(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("kept", id="kept")


def alive(kind: type) -> int:
    gc.collect()
    return sum(isinstance(o, kind) for o in gc.get_objects())


@run_async
async def test_removed_widgets_free_their_rendered_lines() -> None:
    bound_render_caches()  # idempotent: applied on import, checked here again
    app = _Removable()
    async with app.run_test(size=(80, 24)) as pilot:
        for n in range(30):
            await app.mount(Static(f"gone {n} " * 20, classes="gone"))
        await pilot.pause()
        await app.query(".gone").remove()
        await app.mount(Static("new"))  # the screen's cached child lists move on from the removed widgets
        await pilot.pause()
        # every render cache belongs to a live widget; Textual's lru_cache on an instance method kept each
        # removed widget's cache (and the strips it holds) as a cache key
        assert alive(StylesCache) <= alive(Widget)
        assert alive(StylesCache) < 30


@run_async
async def test_the_footer_under_the_help_screen_is_not_rebuilt_until_it_is_back_on_top() -> None:
    app = replay_app(DATA / "hdlc_vectors.hex")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        live = app.screen
        keys = list(live.query(FooterKey))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert app.screen is not live
        assert list(live.query(FooterKey)) == keys  # the same widgets: no rebuild behind the help screen
        await pilot.press("escape")
        await pilot.pause(0.3)
        back = list(live.query(FooterKey))
        assert [k.description for k in back] == [k.description for k in keys]
