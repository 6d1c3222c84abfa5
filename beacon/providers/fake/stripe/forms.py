"""Stripe's form encoding (``items[0][price]=x``, ``metadata[k]=v``) back into nested dicts and lists.

Hand-written because it is twenty lines and no maintained parser for this bracket dialect exists
in the project's dependencies.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")


def parse_stripe_form(body: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if not match:
            root[raw_key] = value
            continue
        path = [match.group(1), *re.findall(r"\[([^\]]*)\]", match.group(2))]
        node: Any = root
        for part, following in zip(path, path[1:], strict=False):
            container: Any = [] if following == "" or following.isdigit() else {}
            node = _child(node, part, container)
        _assign(node, path[-1], value)
    return _lists(root)


def _child(node: Any, part: str, default: Any) -> Any:
    if isinstance(node, list):
        if part == "":
            node.append(default)
            return default
        index = int(part)
        while len(node) <= index:
            node.append(None)
        if node[index] is None:
            node[index] = default
        return node[index]
    return node.setdefault(part, default)


def _assign(node: Any, part: str, value: str) -> None:
    if isinstance(node, list):
        if part == "":
            node.append(value)
        else:
            index = int(part)
            while len(node) <= index:
                node.append(None)
            node[index] = value
    else:
        node[part] = value


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lists(v) for v in value if v is not None]
    return value
