"""Label and field selectors, parsed and matched the way the Kubernetes apiserver does.

The watcher under test relies on selector watches (kubectl waits with
`fieldSelector=metadata.name=X`, informers may filter by label), so simcluster must
accept exactly what the real server accepts and reject the rest with a similar message.
The label grammar follows apimachinery's `labels/selector.go` lexer and parser; field
selectors follow `fields/selector.go`. The object form (`metav1.LabelSelector`) and the
plain map of a Service's `spec.selector` are matched here too, so the workload engine and
the server share one definition of "selects".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector the apiserver would refuse with 400 BadRequest."""


class Operator(enum.Enum):
    """Requirement operators; `=` and `==` parse to the same EQUALS."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: a key, an operator and its values."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        op = self.operator
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            # Kubernetes: a negative requirement holds when the key is absent.
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        if op in (Operator.EQUALS, Operator.IN):
            return labels[self.key] in self.values
        try:
            actual = int(labels[self.key])
        except ValueError:
            return False
        (bound,) = self.values
        return actual > int(bound) if op is Operator.GREATER_THAN else actual < int(bound)

    def text(self) -> str:
        """The requirement in selector syntax, as apimachinery's Requirement.String writes it."""
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        values = sorted(self.values)
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{''.join(values)}"


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector: the AND of its requirements; no requirements match all."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for these labels (None means no labels)."""
        present = labels or {}
        return all(req.matches(present) for req in self.requirements)

    def text(self) -> str:
        """The selector string (`app=x,tier in (a,b)`), requirements sorted by key.

        What a Scale's `status.selector` and `kubectl describe` show for a LabelSelector.
        """
        return ",".join(req.text() for req in sorted(self.requirements, key=lambda r: r.key))


# Label keys and values, as apimachinery's util/validation checks them.
_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_NAME_MESSAGE = f"name part {_NAME_RULE}"
_QUALIFIED_MESSAGE = (
    f"a qualified name {_NAME_RULE} with an optional DNS subdomain prefix and '/' "
    "(e.g. 'example.com/MyName')"
)
_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_PREFIX_MESSAGE = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character"
)


def _key_problems(key: str) -> list[str]:
    if key.count("/") > 1:
        return [_QUALIFIED_MESSAGE]
    prefix, slash, name = key.partition("/") if "/" in key else ("", "", key)
    problems = []
    if slash and not prefix:
        problems.append("prefix part must be non-empty")
    elif prefix and len(prefix) > 253:
        problems.append("prefix part must be no more than 253 characters")
    elif prefix and not _DNS_SUBDOMAIN_RE.match(prefix):
        problems.append(_PREFIX_MESSAGE)
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    elif not _NAME_RE.match(name):
        problems.append(_NAME_MESSAGE)
    return problems


def _check_key(key: str) -> None:
    problems = _key_problems(key)
    if problems:
        raise SelectorError(f'<nil>: Invalid value: "{key}": {"; ".join(problems)}')


def _check_value(key: str, index: int, value: str) -> None:
    if len(value) > 63:
        problem = "must be no more than 63 characters"
    elif value and not _NAME_RE.match(value):
        problem = _VALUE_MESSAGE
    else:
        return
    raise SelectorError(f'values[{index}][{key}]: Invalid value: "{value}": {problem}')


def _requirement(key: str, op: Operator, values: Iterable[str]) -> Requirement:
    """Build a requirement, checking it as apimachinery's NewRequirement does."""
    _check_key(key)
    ordered = sorted(set(values))
    if op in (Operator.IN, Operator.NOT_IN) and not ordered:
        raise SelectorError(
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
        )
    if op in (Operator.EQUALS, Operator.NOT_EQUALS) and len(ordered) != 1:
        raise SelectorError(
            "values: Invalid value: exact-match compatibility requires one single value"
        )
    if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and ordered:
        raise SelectorError(
            "values: Invalid value: values set must be empty for exists and does not exist"
        )
    if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(ordered) != 1:
            raise SelectorError(
                "values: Required value: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        if not re.fullmatch(r"[-+]?[0-9]+", ordered[0]):
            raise SelectorError(
                f"values[0]: Invalid value: \"{ordered[0]}\": for 'Gt', "
                "'Lt' operators, the value must be an integer"
            )
    for index, value in enumerate(ordered):
        _check_value(key, index, value)
    return Requirement(key, op, frozenset(ordered))


# --- the label selector grammar -------------------------------------------------------

_END = "end of string"
_IDENT = "identifier"
_SPECIAL_CHARS = frozenset("=!(),<>")
_TWO_CHAR_SYMBOLS = ("!=", "==")
_KEYWORDS = frozenset({"in", "notin"})
_BINARY_OPERATORS = {
    "=": Operator.EQUALS,
    "==": Operator.EQUALS,
    "!=": Operator.NOT_EQUALS,
    "in": Operator.IN,
    "notin": Operator.NOT_IN,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}
_EXPECTED_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    """Split into (kind, literal) tokens; kind is the symbol, a keyword, or identifier."""
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _SPECIAL_CHARS:
            symbol = text[i : i + 2] if text[i : i + 2] in _TWO_CHAR_SYMBOLS else ch
            tokens.append((symbol, symbol))
            i += len(symbol)
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL_CHARS:
                i += 1
            word = text[start:i]
            tokens.append((word if word in _KEYWORDS else _IDENT, word))
    tokens.append((_END, ""))
    return tokens


class _LabelParser:
    """Recursive descent over the token list, mirroring labels.Parser's error messages."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, as_value: bool = True) -> tuple[str, str]:
        return self._view(self.tokens[self.pos], as_value)

    def take(self, as_value: bool = True) -> tuple[str, str]:
        token = self.tokens[self.pos]
        if token[0] != _END:
            self.pos += 1
        return self._view(token, as_value)

    @staticmethod
    def _view(token: tuple[str, str], as_value: bool) -> tuple[str, str]:
        # `in` and `notin` are keywords only where an operator may stand.
        if as_value and token[0] in _KEYWORDS:
            return _IDENT, token[1]
        return token

    def parse(self) -> LabelSelector:
        requirements = []
        while True:
            kind, literal = self.peek()
            if kind == _END:
                break
            if kind not in (_IDENT, "!"):
                raise SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self.requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            kind, literal = self.take()
            if kind == _END:
                break
            if kind != ",":
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self.peek()
            if kind not in (_IDENT, "!"):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")
        return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))

    def requirement(self) -> Requirement:
        kind, key = self.take()
        negated = kind == "!"
        if negated:
            kind, key = self.take()
        if kind != _IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        _check_key(key)
        if negated or self.peek()[0] in (_END, ","):
            return _requirement(key, Operator.DOES_NOT_EXIST if negated else Operator.EXISTS, ())
        kind, literal = self.take(as_value=False)
        op = _BINARY_OPERATORS.get(kind)
        if op is None:
            raise SelectorError(f"found '{literal}', expected: {_EXPECTED_OPERATORS}")
        values = self.value_set() if op in (Operator.IN, Operator.NOT_IN) else self.exact_value()
        return _requirement(key, op, values)

    def exact_value(self) -> set[str]:
        kind, literal = self.peek()
        if kind in (_END, ","):
            return {""}
        self.take()
        if kind != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return {literal}

    def value_set(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise SelectorError(f"found '{literal}' expected: '('")
        values: set[str] = set()
        expect_value = True
        while True:
            kind, literal = self.take()
            if kind == ")":
                if expect_value:
                    values.add("")  # `()` and a trailing comma both mean the empty value
                return values
            if kind == _IDENT and expect_value:
                values.add(literal)
                expect_value = False
            elif kind == ",":
                if expect_value:
                    values.add("")
                expect_value = True
            elif expect_value:
                raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
            else:
                raise SelectorError(f"found '{literal}', expected: ',' or ')'")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `labelSelector` query value; the empty string selects everything."""
    return _LabelParser(text).parse()


# --- field selectors -----------------------------------------------------------------

_FIELD_OPERATORS = ("!=", "==", "=")
_FIELD_ESCAPES = {"\\": "\\", ",": ",", "=": "="}


@dataclass(frozen=True)
class FieldTerm:
    """`field=value` (or `!=` when negated) against a dotted path in the object."""

    field: str
    value: str
    negated: bool = False

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, self.field) == self.value) != self.negated


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector: the AND of its terms; no terms match all."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def fields(self) -> frozenset[str]:
        """The field paths used, so the server can refuse the ones a type lacks."""
        return frozenset(term.field for term in self.terms)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True when every term holds for this object."""
        return all(term.matches(obj) for term in self.terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as the apiserver's field set renders it; missing is ""."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash."""
    terms, current, escaped = [], [], False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
            continue
        current.append(ch)
    terms.append("".join(current))
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _FIELD_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in _FIELD_ESCAPES:
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(_FIELD_ESCAPES[ch])
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "=,":
            raise SelectorError(f"invalid field selector: unescaped character: {ch}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a `fieldSelector` query value; whitespace around fields and values is ignored."""
    terms = []
    for part in _split_terms(text):
        if not part.strip():
            continue
        split = _split_term(part)
        if split is None or not split[0].strip():
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldTerm(lhs.strip(), _unescape(rhs.strip()), negated=op == "!="))
    return FieldSelector(tuple(terms))


# --- selectors stored in objects -------------------------------------------------------

_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def selector_from_object(selector: Mapping[str, Any]) -> LabelSelector:
    """Convert a `metav1.LabelSelector` (matchLabels + matchExpressions) to requirements."""
    requirements = [
        _requirement(key, Operator.EQUALS, [value])
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or ():
        operator = expression.get("operator")
        if operator not in _EXPRESSION_OPERATORS:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        requirements.append(
            _requirement(
                expression.get("key", ""),
                _EXPRESSION_OPERATORS[operator],
                expression.get("values") or (),
            )
        )
    return LabelSelector(tuple(requirements))


def selector_object_matches(
    selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None
) -> bool:
    """Does a `metav1.LabelSelector` select these labels? Empty or None selects everything."""
    if not selector:
        return True
    return selector_from_object(selector).matches(labels)


def map_selector_matches(
    selector: Mapping[str, str] | None, labels: Mapping[str, str] | None
) -> bool:
    """Does a Service's `spec.selector` select these labels? Empty or None selects nothing."""
    if not selector:
        return False
    present = labels or {}
    return all(present.get(key) == value for key, value in selector.items())
