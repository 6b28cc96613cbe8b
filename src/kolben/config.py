"""Configuration: a dict with loaders for objects, files, mappings and env vars."""

from __future__ import annotations

import errno
import json
import os
import types
import typing as t

from werkzeug.utils import import_string

if t.TYPE_CHECKING:
    from .app import Kolben

T = t.TypeVar("T")


class ConfigAttribute(t.Generic[T]):
    """A class attribute that forwards to a key of ``app.config``."""

    def __init__(self, name: str, get_converter: t.Callable[[t.Any], T] | None = None) -> None:
        self.__name__ = name
        self.get_converter = get_converter

    @t.overload
    def __get__(self, obj: None, owner: type[Kolben] | None = None) -> ConfigAttribute[T]: ...

    @t.overload
    def __get__(self, obj: Kolben, owner: type[Kolben] | None = None) -> T: ...

    def __get__(
        self, obj: Kolben | None, owner: type[Kolben] | None = None
    ) -> T | ConfigAttribute[T]:
        if obj is None:
            return self
        rv = obj.config[self.__name__]
        if self.get_converter is not None:
            rv = self.get_converter(rv)
        return rv  # type: ignore[no-any-return]

    def __set__(self, obj: Kolben, value: t.Any) -> None:
        obj.config[self.__name__] = value



class Config(dict[str, t.Any]):
    """The app's configuration: a dict, plus ways to fill it.

    Only UPPERCASE keys are taken from objects, files and mappings, so you can
    keep lowercase helpers and temporaries beside the settings. ``root_path``
    is where relative file names are looked up (the app's root, or its instance
    folder with ``instance_relative_config=True``).
    """

    def __init__(
        self, root_path: str | os.PathLike[str], defaults: dict[str, t.Any] | None = None
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python file named by the environment variable ``variable_name``.

        Returns True if a file was loaded. With ``silent``, a missing variable or
        file returns False instead of raising.
        """
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set and as such"
                " configuration could not be loaded. Set this variable and make it"
                " point to a configuration file, for example:\n\n"
                f"  export {variable_name}=/path/to/config.cfg"
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(
        self, prefix: str = "KOLBEN", *, loads: t.Callable[[str], t.Any] = json.loads
    ) -> bool:
        """Load environment variables that start with ``{prefix}_``.

        The prefix is removed from the key. Values go through ``loads`` (JSON by
        default, so numbers, booleans, lists and dicts come out typed) and stay
        strings when that fails. A double underscore sets a key of a nested dict:
        ``KOLBEN_DB__HOST=x`` sets ``config["DB"]["HOST"]``.

        With the default prefix ``KOLBEN``, variables starting with ``FLASK_`` are
        honoured too, so an app moved from Flask keeps its environment; ``KOLBEN_``
        wins where both set a key. Always returns True.
        """
        prefixes = [f"{prefix}_"]
        if prefix == "KOLBEN":
            prefixes.insert(0, "FLASK_")  # applied first, so KOLBEN_ overrides it
        for p in prefixes:
            self._load_prefixed(p, loads)
        return True

    def _load_prefixed(self, prefix: str, loads: t.Callable[[str], t.Any]) -> None:
        len_prefix = len(prefix)
        for key in sorted(os.environ):
            if not key.startswith(prefix):
                continue
            raw = os.environ[key]
            key = key[len_prefix:]
            try:
                value = loads(raw)
            except Exception:
                value = raw
            if "__" not in key:
                self[key] = value
                continue
            current: dict[str, t.Any] = self
            *parts, tail = key.split("__")
            for part in parts:
                if part not in current:
                    current[part] = {}
                current = current[part]
            current[tail] = value

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Load UPPERCASE names from a Python file, as if it were imported.

        ``filename`` is relative to :attr:`root_path`. With ``silent``, a missing
        file returns False instead of raising.
        """
        filename = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = filename
        try:
            with open(filename, mode="rb") as config_file:
                exec(compile(config_file.read(), filename, "exec"), module.__dict__)
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of an object, class or module.

        ``obj`` may also be an import string such as ``"myapp.config.Production"``.
        Properties on a class are not evaluated; use an instance for that.
        """
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: t.Callable[[t.IO[t.Any]], t.Mapping[str, t.Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a file with the function ``load`` and update from the mapping it gives.

        For example ``app.config.from_file("config.json", load=json.load)`` or
        ``app.config.from_file("config.toml", load=tomllib.load, text=False)``.
        Only UPPERCASE keys are kept.
        """
        filename = os.path.join(self.root_path, filename)
        try:
            with open(filename, "r" if text else "rb") as f:
                obj = load(f)
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        return self.from_mapping(obj)

    def from_mapping(self, mapping: t.Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> bool:
        """Update from a mapping and/or keyword arguments, UPPERCASE keys only."""
        items: dict[str, t.Any] = {}
        if mapping is not None:
            items.update(mapping)
        items.update(kwargs)
        for key, value in items.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, t.Any]:
        """Return the keys that start with ``namespace`` as a new dict.

        ``app.config.get_namespace("IMAGE_STORE_")`` on ``IMAGE_STORE_TYPE`` and
        ``IMAGE_STORE_PATH`` gives ``{"type": ..., "path": ...}``; handy as keyword
        arguments for a client's constructor.
        """
        rv = {}
        for k, v in self.items():
            if not k.startswith(namespace):
                continue
            key = k[len(namespace):] if trim_namespace else k
            if lowercase:
                key = key.lower()
            rv[key] = v
        return rv

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"
