"""Message templates: sandboxed Jinja2, compiled once per template version, with clear errors.

One renderer serves activation (real sends) and the API (template preview), so a preview shows
exactly what a contact receives. Templates are tenant-authored, so they run in Jinja2's immutable
sandbox: no dunder or private attributes, no mutating the values passed in, no unsafe calls.
HTML bodies are auto-escaped; subjects and text bodies are plain text and are not.

A template sees ``contact`` and ``organization`` (plain dicts of their columns) and the campaign's
context variables (``body``, ``cta_url``, ``unsubscribe_url`` ...).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

RESERVED_NAMES = ("contact", "organization")
# Values that differ per message even when the content does not reference the contact:
# activation passes them as SendGrid substitutions when it batches a shared body.
PER_SEND_VARIABLES = frozenset({"unsubscribe_url", "preferences_url", "send_id", "tracking_pixel_url", "view_url"})
PARTS = ("subject", "html_body", "text_body")




def _blank_none(value: Any) -> Any:
    return "" if value is None else value

class TemplateLike(Protocol):
    """What the renderer needs; ``beacon.schema.models.Template`` and :class:`TemplateSource` fit."""

    id: Any
    updated_at: datetime | None
    code: str
    subject: str | None
    html_body: str | None
    text_body: str
    required_variables: list[str]


@dataclass(frozen=True)
class TemplateSource:
    """A template not (yet) stored, e.g. an edit being previewed."""

    code: str
    text_body: str
    subject: str | None = None
    html_body: str | None = None
    required_variables: list[str] = field(default_factory=list)
    id: Any = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    html: str | None
    text: str


class TemplateProblem(ValueError):
    """Any template failure; the message names the template and what is wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"template {code!r}: {message}")
        self.template_code = code


class TemplateSyntaxProblem(TemplateProblem):
    def __init__(self, code: str, part: str, error: TemplateSyntaxError) -> None:
        super().__init__(code, f"{part} line {error.lineno}: {error.message}")
        self.part, self.lineno = part, error.lineno


class MissingVariablesError(TemplateProblem):
    def __init__(self, code: str, missing: list[str], detail: str | None = None) -> None:
        message = f"missing required variables: {', '.join(missing)}" if missing else "a variable is missing"
        super().__init__(code, f"{message} ({detail})" if detail else message)
        self.missing = missing


class UnsafeTemplateError(TemplateProblem):
    """The template tried something the sandbox forbids (dunder access, mutation, unsafe call)."""


@dataclass(frozen=True)
class CompiledTemplate:
    code: str
    subject: Template | None
    html: Template | None
    text: Template
    variables: frozenset[str]
    """Top-level names the template reads (``contact``, ``organization``, context keys)."""
    required_variables: tuple[str, ...]
    contact_fields: frozenset[str]
    """Contact attributes the content reads; ``"*"`` when ``contact`` is used as a whole."""

    @property
    def is_per_recipient(self) -> bool:
        """True when the content depends on who receives it (it reads contact fields).

        False means one rendering serves the whole audience; only :data:`PER_SEND_VARIABLES`
        differ per message, and activation can send them as SendGrid substitutions.
        """
        return bool(self.contact_fields)

    @property
    def per_send_variables(self) -> frozenset[str]:
        return self.variables & PER_SEND_VARIABLES

    def render(self, variables: Mapping[str, Any]) -> RenderedMessage:
        missing = sorted(name for name in self.required_variables if variables.get(name) in (None, ""))
        if missing:
            raise MissingVariablesError(self.code, missing)
        try:
            return RenderedMessage(
                subject=self.subject.render(variables) if self.subject else None,
                html=self.html.render(variables) if self.html else None,
                text=self.text.render(variables),
            )
        except SecurityError as exc:
            raise UnsafeTemplateError(self.code, f"not allowed in a template: {exc}") from None
        except UndefinedError as exc:
            # Name every absent top-level variable at once, not just the first one Jinja met.
            absent = sorted(self.variables - variables.keys())
            raise MissingVariablesError(self.code, absent, detail=str(exc)) from None


def _contact_fields(tree: nodes.Template) -> set[str]:
    found: set[str] = set()

    def visit(node: nodes.Node, parent: nodes.Node | None) -> None:
        if isinstance(node, nodes.Name) and node.name == "contact" and node.ctx == "load":
            if isinstance(parent, nodes.Getattr) and parent.node is node:
                found.add(parent.attr)
            elif isinstance(parent, nodes.Getitem) and parent.node is node and isinstance(parent.arg, nodes.Const):
                found.add(str(parent.arg.value))
            else:
                found.add("*")
        for child in node.iter_child_nodes():
            visit(child, node)

    visit(tree, None)
    return found


class TemplateRenderer:
    """Compiles templates in the sandbox and caches them per (template id, updated_at)."""

    def __init__(self, max_cached: int = 1024) -> None:
        # A known field with no value (None) prints as nothing, never as "None"; an unknown one is an error.
        self._html_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True, finalize=_blank_none)
        self._text_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_blank_none)
        self._cache: OrderedDict[tuple[Any, ...], CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()
        self._max_cached = max_cached
        self.compilations = 0

    @staticmethod
    def _cache_key(template: TemplateLike) -> tuple[Any, ...]:
        if template.id is not None:
            return ("id", template.id, template.updated_at)
        # Unsaved templates (previews) are keyed by content instead.
        digest = hashlib.sha256(repr([getattr(template, p) for p in PARTS]).encode()).hexdigest()
        return ("source", digest, tuple(template.required_variables or ()))

    def compile(self, template: TemplateLike) -> CompiledTemplate:
        """Compile (or fetch from the cache); raises :class:`TemplateSyntaxProblem` naming the part and line."""
        key = self._cache_key(template)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        compiled = self._compile(template)
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return compiled

    def _compile(self, template: TemplateLike) -> CompiledTemplate:
        if not template.text_body:
            raise TemplateProblem(template.code, "text_body is required (every message has a plain-text part)")
        compiled: dict[str, Template | None] = {}
        variables: set[str] = set()
        contact_fields: set[str] = set()
        for part in PARTS:
            source = getattr(template, part)
            if source is None:
                compiled[part] = None
                continue
            env = self._html_env if part == "html_body" else self._text_env
            try:
                tree = env.parse(source)
                compiled[part] = env.from_string(tree)
            except TemplateSyntaxError as exc:
                raise TemplateSyntaxProblem(template.code, part, exc) from None
            variables |= meta.find_undeclared_variables(tree) - env.globals.keys()
            contact_fields |= _contact_fields(tree)
        self.compilations += 1
        return CompiledTemplate(
            code=template.code,
            subject=compiled["subject"],
            html=compiled["html_body"],
            text=compiled["text_body"],  # type: ignore[arg-type]
            variables=frozenset(variables),
            required_variables=tuple(template.required_variables or ()),
            contact_fields=frozenset(contact_fields),
        )

    def render(
        self,
        template: TemplateLike,
        *,
        contact: Any = None,
        organization: Any = None,
        context: Mapping[str, Any] | None = None,
    ) -> RenderedMessage:
        """Render subject, HTML and text for one contact; contact/organization may be dicts or ORM rows."""
        context = dict(context or {})
        clash = set(RESERVED_NAMES) & context.keys()
        if clash:
            raise TemplateProblem(template.code, f"context may not redefine {sorted(clash)}")
        variables = {**context, "contact": as_mapping(contact), "organization": as_mapping(organization)}
        return self.compile(template).render(variables)


def as_mapping(value: Any) -> dict[str, Any]:
    """A plain dict of a mapping or an ORM row's columns: templates never see live ORM objects."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoInspectionAvailable

    try:
        mapper = inspect(value).mapper
    except NoInspectionAvailable:
        raise TypeError(f"expected a mapping or an ORM row, got {type(value).__name__}") from None
    return {attr.key: getattr(value, attr.key) for attr in mapper.column_attrs}


@cache
def default_renderer() -> TemplateRenderer:
    """The process-wide renderer (one compile cache shared by activation and the API)."""
    return TemplateRenderer()


def render(
    template: TemplateLike,
    *,
    contact: Any = None,
    organization: Any = None,
    context: Mapping[str, Any] | None = None,
) -> RenderedMessage:
    return default_renderer().render(template, contact=contact, organization=organization, context=context)


def is_per_recipient(template: TemplateLike) -> bool:
    """Whether the content reads contact fields (else one rendering serves every recipient)."""
    return default_renderer().compile(template).is_per_recipient
