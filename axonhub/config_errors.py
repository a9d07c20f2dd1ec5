"""Config errors a person can act on: where (path and line), what is wrong, what was probably meant.

Every problem found in `axonhub.yml`, by the schema or by the semantic checks, becomes one line:

    channels[0].modles: unknown field (did you mean 'models'?) (line 14)
    profiles.cheap rule 2.regex: invalid regex '(': missing ), unterminated subpattern (line 31)
    channels[1].api_key: use an environment reference such as ${DEEPSEEK_API_KEY} and export … (line 22)

Rules are numbered from 1, as everywhere else (`profiles show`, the trace's `rule`); other list
entries keep their 0-based JSON index. A value given where an environment reference belongs is
never repeated (it is most likely a pasted secret). Channel types this version cannot serve are
accepted by the schema (a config written for a later version still loads) but never suggested.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError, best_match, relevance

from axonhub.schema import SERVED_CHANNEL_TYPES

# The C loader is several times faster on large files; fall back when libyaml is absent.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One error: the JSON path it is at, the message, and whether the path's last part is a key
    (its own line is wanted) rather than a value."""

    path: Path
    message: str


def format_path(path: Iterable[str | int]) -> str:
    """`('profiles', 'cheap', 'rules', 1, 'regex')` -> `profiles.cheap rule 2.regex`."""
    out = ""
    parts = list(path)
    for i, part in enumerate(parts):
        if isinstance(part, int) and i > 0 and parts[i - 1] == "rules":
            out = out.removesuffix(".rules") + f" rule {part + 1}"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def render(problems: Sequence[Problem], text: str | None) -> list[str]:
    """`path: message (line N)` per problem, in the file's order when the YAML text is at hand."""
    root = _compose(text) if text is not None else None
    located = [(_line_of(root, p.path) if root is not None else None, p) for p in problems]
    located.sort(key=lambda pair: pair[0] if pair[0] is not None else float("inf"))
    return [
        f"{format_path(problem.path)}: {problem.message}" + (f" (line {line})" if line else "")
        for line, problem in located
    ]


def schema_problems(err: ValidationError) -> list[Problem]:
    """What a jsonschema error means for a person, with its path."""
    path: Path = tuple(err.absolute_path)
    if err.validator in ("oneOf", "anyOf") and err.context:
        rule = _rule_shape(err, path)
        if rule is not None:
            return [rule]
        return [problem for closest in _closest_branch(err) for problem in schema_problems(closest)]
    if err.validator == "not" and path and "rules" in path:
        return [Problem(path, "give `match` or `regex`, not both")]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = list((err.schema.get("properties") or {}) if isinstance(err.schema, dict) else ())
        return [Problem((*path, name), _unknown(name, known, "field")) for name in _extra_names(err)]
    if path and path[-1] == "api_key":
        return [Problem(path, _api_key_advice(err))]
    if path and path[-1] == "base_url" and err.validator == "pattern":
        return [Problem(path, f"{err.instance!r} is not an http:// or https:// URL")]
    if path[-2:] == ("state", "url") and err.validator == "pattern":
        return [Problem(path, f"{err.instance!r} is not a redis://, rediss:// or unix:// URL, nor ${{NAME}}")]
    if err.validator == "enum":
        return [Problem(path, _not_one_of(err.instance, _valid_values(path, err.validator_value)))]
    return [Problem(path, err.message)]


def _closest_branch(err: ValidationError) -> list[ValidationError]:
    """The errors of the alternative the value came closest to: the deepest, then those of a branch of
    the value's own type (`{urll: …}` for `state` is a mapping with an unknown field, not a name that is
    not `memory`). When no alternative is closer than another, the one best_match picks."""
    ranked = sorted(err.context, key=relevance)
    closest = [e for e in ranked if relevance(e) == relevance(ranked[0])]
    if len(closest) == len(ranked):
        return [best_match(err.context)]
    return closest


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or ``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown(name: str, known: Sequence[str], what: str) -> str:
    hint = did_you_mean(name, known)
    return f"unknown {what}{hint}" if hint else f"unknown {what} (expected one of {', '.join(known)})"


def _extra_names(err: ValidationError) -> list[str]:
    known = set((err.schema.get("properties") or {}) if isinstance(err.schema, dict) else ())
    instance = err.instance if isinstance(err.instance, dict) else {}
    return [str(name) for name in instance if name not in known]


def _rule_shape(err: ValidationError, path: Path) -> Problem | None:
    """A profile rule missing all of match/regex/when."""
    shape = ("match", "regex", "when")
    if (
        len(path) >= 2
        and path[-2] == "rules"
        and isinstance(err.instance, dict)
        and not any(k in err.instance for k in shape)
    ):
        return Problem(path, "a rule needs `match` (a model name), `regex` or `when` (conditions)")
    return None


def _api_key_advice(err: ValidationError) -> str:
    """Never repeat the value: it is most likely the key itself."""
    if not isinstance(err.instance, str):
        return "must be a string: an environment reference such as ${DEEPSEEK_API_KEY}"
    return (
        "use an environment reference such as ${DEEPSEEK_API_KEY} and export the key where `axonhub serve` "
        "runs; the key itself never goes in this file (the value given is not shown)"
    )


def _valid_values(path: Path, values: Any) -> list[str]:
    if len(path) >= 3 and path[0] == "channels" and path[-1] == "type":
        return [v for v in values if v in SERVED_CHANNEL_TYPES]
    return [str(v) for v in values]


def _not_one_of(value: Any, valid: list[str]) -> str:
    shown = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    hint = did_you_mean(value, valid) if isinstance(value, str) else ""
    return f"{shown} is not one of {', '.join(valid)}{hint}"


def _compose(text: str) -> Any:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None


def _line_of(node: Any, path: Path) -> int | None:
    """The 1-based line of the entry at `path` (the key's line for a mapping entry)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if found is None:
                return line
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
