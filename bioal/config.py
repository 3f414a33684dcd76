"""Typed, validated configuration.

Every notebook's ``parameters`` cell holds ``NAME: type = value  # help`` literals. The next
cell freezes them into a :class:`Config` subclass with ``Cls.from_namespace(globals())``,
which picks each field by its upper-case name, checks types (lists become tuples, ints are
accepted for floats, NaN and infinity are not) and ranges (``check``), and prints as a table. Presets live in
``configs/<name>.yaml`` as flat ``NAME: value`` mappings shared by all notebooks.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import yaml

from bioal.utils import project_root

__all__ = [
    "Config",
    "ConfigError",
    "GRID_PARAMETERS",
    "PAPER_DATA_ROOT",
    "PAPER_RESULTS_DIR",
    "check_keys",
    "load_preset",
    "preset_path",
]

C = TypeVar("C", bound="Config")
#: The paper preset's folders (``configs/paper.yaml``), the configs' defaults.
PAPER_DATA_ROOT = "data/paper"
PAPER_RESULTS_DIR = "results/paper"
#: The experiment parameters the sweep's grid (method §4.6) sets per run: :mod:`bioal.sweep`
#: builds its cells from them and refuses them as overrides; :mod:`bioal.results` lets their
#: lower-case config fields, and only them among the result-shaping ones, differ between runs.
GRID_PARAMETERS: tuple[str, ...] = ("STRATEGY", "INIT_POS", "SEED", "FULL_SUPERVISION")


class ConfigError(ValueError):
    """A configuration value has the wrong type or is out of range."""


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against ``annotation``; return it, converted where lossless."""
    origin = get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in get_args(annotation):
            try:
                return _coerce(name, value, option)
            except ConfigError:
                pass
        raise ConfigError(f"{name}: {value!r} matches none of {annotation}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{name}: expected None, got {value!r}")
    if origin is Literal:
        if value in get_args(annotation):
            return value
        raise ConfigError(f"{name}: {value!r} is not one of {list(get_args(annotation))}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a sequence, got {value!r}")
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value)]
        elif args:
            if len(args) != len(value):
                raise ConfigError(f"{name}: expected {len(args)} items, got {len(value)}")
            items = [_coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            items = list(value)
        return tuple(items)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise ConfigError(f"{name}: {value} is too large for a float") from None
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if annotation is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise ConfigError(f"{name}: expected a path, got {value!r}")
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    if isinstance(annotation, type) and issubclass(annotation, Config) and isinstance(value, Mapping):
        return annotation.from_dict(value)
    raise ConfigError(f"{name}: cannot check {value!r} against {annotation}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class: a frozen dataclass that validates its fields on creation.

    Subclasses declare typed fields with defaults and may override :meth:`check` to
    enforce ranges, raising :class:`ConfigError` with the field's name. A float field (or a
    float in a tuple field) that is NaN or infinite is refused after ``check``, which may name
    it first.

    A field may hold another :class:`Config` (e.g. the experiment's classifier). Its fields
    stay flat everywhere outside Python: notebook parameters, presets and ``to_dict`` /
    ``from_dict`` use one ``NAME`` per inner field, the inner field's own name unless
    :attr:`FLAT_NAMES` ``{nested field: {inner field: flat name}}`` renames it.
    :attr:`RENAMED` ``{old flat name: current flat name}`` lets :meth:`from_dict` read records
    written before a rename.
    """

    FLAT_NAMES: ClassVar[dict[str, dict[str, str]]] = {}
    RENAMED: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = _coerce(field.name.upper(), getattr(self, field.name), hints[field.name])
            object.__setattr__(self, field.name, value)
        self.check()
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, float) and not math.isfinite(item):
                    raise ConfigError(f"{field.name.upper()}: must be a finite number, got {value!r}")

    def check(self) -> None:
        """Range checks; raise :class:`ConfigError` naming the field."""

    @classmethod
    def _nested(cls) -> dict[str, tuple[type[Config], dict[str, str]]]:
        """``{nested field: (its Config class, {flat name: inner field})}``."""
        hints = typing.get_type_hints(cls)
        out = {}
        for field in dataclasses.fields(cls):
            kind = hints[field.name]
            if isinstance(kind, type) and issubclass(kind, Config):
                rename = cls.FLAT_NAMES.get(field.name, {})
                out[field.name] = (kind, {rename.get(f.name, f.name): f.name for f in dataclasses.fields(kind)})
        return out

    @classmethod
    def flat_names(cls) -> list[str]:
        """Every flat (lower-case) name this config reads: its own fields and its nested configs'."""
        nested = cls._nested()
        names = [f.name for f in dataclasses.fields(cls) if f.name not in nested]
        return names + [flat for _, inner in nested.values() for flat in inner]

    @classmethod
    def _build(cls: type[C], values: dict[str, Any]) -> C:
        """Construct from flat lower-case names (nested configs gathered from theirs)."""
        for name, (kind, inner) in cls._nested().items():
            if name in values:
                continue
            part = {field: values.pop(flat) for flat, field in inner.items() if flat in values}
            values[name] = kind(**part)
        return cls(**values)

    @classmethod
    def from_namespace(cls: type[C], namespace: Mapping[str, Any], **overrides: Any) -> C:
        """Build from a notebook namespace: field ``x`` is read from ``X`` when present."""
        values = {name: namespace[name.upper()] for name in cls.flat_names() if name.upper() in namespace}
        values.update(overrides)
        return cls._build(values)

    @classmethod
    def current_name(cls, key: str) -> str:
        """The lower-case flat name of ``key``, its current name if :attr:`RENAMED` has it."""
        return cls.RENAMED.get(key.lower(), key.lower())

    @classmethod
    def current_names(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` keyed by :meth:`current_name`; an old and a current name with different
        values are an error."""
        out: dict[str, Any] = {}
        source: dict[str, str] = {}
        for key, value in data.items():
            name = cls.current_name(key)
            if name in out and out[name] != value:
                raise ConfigError(
                    f"{source[name]!r} = {out[name]!r} and {key!r} = {value!r} name the same field "
                    f"{name.upper()} (one is its old name) with different values"
                )
            out[name], source[name] = value, key
        return out

    @classmethod
    def recorded(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """A recorded config's values (``config.json``) under current names, with the defaults
        of the fields added since it was written: what the run was made with."""
        return {**cls().to_dict(), **cls.current_names(data)}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping of lower- or upper-case flat names (old names of
        :attr:`RENAMED` allowed); unknown keys are an error."""
        names = set(cls.flat_names()) | set(cls._nested())
        for key in data:
            if cls.current_name(key) not in names:
                raise ConfigError(f"{cls.__name__} has no field {key!r} (fields: {sorted(names)})")
        return cls._build(cls.current_names(data))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready flat mapping (tuples become lists, paths strings, nested configs flattened)."""
        nested = self._nested()
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in nested:
                inner = value.to_dict()
                out.update({flat: inner[name] for flat, name in nested[field.name][1].items()})
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Path):
                value = str(value)
            out[field.name] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        rows = [(k.upper(), repr(v)) for k, v in self.to_dict().items()]
        width = max((len(k) for k, _ in rows), default=0)
        lines = [f"{type(self).__name__}"] + [f"  {k:<{width}} = {v}" for k, v in rows]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display
        printer.text(str(self))


def preset_path(preset: str | Path) -> Path:
    """``configs/<preset>.yaml`` for a preset name, or the given YAML path itself."""
    candidate = Path(preset)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate if candidate.is_absolute() else project_root() / candidate
    path = project_root() / "configs" / f"{preset}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (project_root() / "configs").glob("*.yaml"))
        raise FileNotFoundError(f"no preset {preset!r}: {path} does not exist (available: {available})")
    return path


def load_preset(preset: str | Path, known: Iterable[str] | None = None) -> dict[str, Any]:
    """The flat ``NAME: value`` mapping of a preset (``demo``, ``paper`` or a YAML path).

    Uses a YAML loader that reads ``5e-4`` as a float (PyYAML's default reads it as str).
    Broken YAML raises :class:`ConfigError` naming the file and line. With ``known`` (the
    parameter names the notebooks and the sweep read), a key outside it is an error listing
    its close matches, so a misspelt key never leaves a default in force silently.
    """
    path = preset_path(preset)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_FloatLoader) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: not valid YAML ({problem})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset must be a mapping of NAME: value")
    for key in data:
        if not isinstance(key, str) or key.upper() != key:
            raise ConfigError(f"{path}: preset keys are upper-case parameter names, got {key!r}")
    if known is not None:
        check_keys(data, known, str(path))
    return data


def check_keys(data: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Raise :class:`ConfigError` for keys of ``data`` not in ``known``, listing close matches."""
    known = sorted(set(known))
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key).upper(), known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else f"known keys: {', '.join(known)}"
        raise ConfigError(f"{where}: unknown key {key!r}; {hint}")


class _FloatLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-10``-style scalars as floats and refuses a repeated key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is repeated (lines {seen[key]} and {line})", key_node.start_mark
                )
            seen.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


_FloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
