"""The few HTML pages a recipient sees. Plain, escaped, no scripts, no external assets."""

from __future__ import annotations

from html import escape

_STYLE = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}button{padding:.5rem 1rem}"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<meta name=robots content=noindex><title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>")


def confirm_unsubscribe(action: str, address: str | None) -> str:
    who = f" <strong>{escape(address)}</strong>" if address else ""
    return _page("Unsubscribe", f"<p>Stop marketing messages to{who}?</p>"
                 f"<form method=post action='{escape(action, quote=True)}'>"
                 "<button type=submit>Unsubscribe</button></form>")


def unsubscribed() -> str:
    return _page("You are unsubscribed", "<p>You will not receive marketing messages from us any more.</p>")


def preferences_form(action: str, current: dict[str, bool]) -> str:
    boxes = "".join(
        f"<p><label><input type=checkbox name={c} value=on{' checked' if current.get(c) else ''}> {c.title()} emails</label></p>"
        for c in ("promotional", "newsletter")
    )
    return _page("Email preferences", f"<form method=post action='{escape(action, quote=True)}'>{boxes}"
                 "<p>Transactional emails (receipts, account notices) are always sent.</p>"
                 "<button type=submit>Save</button></form>")


def preferences_saved(current: dict[str, bool]) -> str:
    chosen = ", ".join(c for c, on in current.items() if on) or "none"
    return _page("Preferences saved", f"<p>You will receive: {escape(chosen)}.</p>")
