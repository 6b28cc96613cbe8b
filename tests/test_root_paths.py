"""Root and instance paths: ``get_root_path`` for modules, packages, namespace
packages, scripts and interactive sessions; ``instance_path`` for a project, an
installed package or module, and a user install; the app name of a script."""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import pytest

import kolben
from helpers import kolben_only, write
from kolben.helpers import get_root_path


@pytest.fixture
def unique(tmp_path):
    """A module name no other test uses; removed from sys.modules afterwards."""
    name = f"mod_{tmp_path.name.replace('-', '_')}"
    yield name
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
        del sys.modules[key]


def test_root_path_of_an_imported_module():
    assert get_root_path("os") == os.path.dirname(os.path.abspath(os.__file__))
    assert get_root_path(__name__) == os.path.dirname(os.path.abspath(__file__))


def test_root_path_of_a_module_not_yet_imported(tmp_path, monkeypatch, unique):
    write(tmp_path / f"{unique}.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path)
    assert unique not in sys.modules
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_a_package_and_its_module(tmp_path, monkeypatch, unique):
    write(tmp_path / unique / "__init__.py")
    write(tmp_path / unique / "views.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path / unique)
    assert get_root_path(f"{unique}.views") == str(tmp_path / unique)
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path / unique)
    assert app.instance_path == str(tmp_path / "instance")
    assert kolben.Kolben(f"{unique}.views").instance_path == str(tmp_path / "instance")


def test_root_path_of_an_imported_package(tmp_path, monkeypatch, unique):
    write(tmp_path / unique / "__init__.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(unique)
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path / unique)
    assert app.instance_path == str(tmp_path / "instance")


@kolben_only
def test_root_path_of_a_namespace_package(tmp_path, monkeypatch, unique):
    # Flask raises RuntimeError here; kolben uses the package's folder.
    write(tmp_path / unique / "mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path / unique)


def test_instance_path_of_a_module_in_a_namespace_package(tmp_path, monkeypatch, unique):
    write(tmp_path / "src" / unique / "mod.py")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    app = kolben.Kolben(f"{unique}.mod")
    assert app.root_path == str(tmp_path / "src" / unique)
    assert app.instance_path == str(tmp_path / "src" / "instance")


def test_instance_path_of_a_package_in_a_namespace_package_over_two_folders(
    tmp_path, monkeypatch, unique
):
    # The namespace package has a part in a/ (first on sys.path) and one in b/;
    # the app's package is in b/, so its instance folder is beside it, as Flask.
    write(tmp_path / "a" / unique / "other" / "__init__.py")
    write(tmp_path / "b" / unique / "app" / "__init__.py")
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    app = kolben.Kolben(f"{unique}.app")
    assert app.root_path == str(tmp_path / "b" / unique / "app")
    assert app.instance_path == str(tmp_path / "b" / "instance")


def test_instance_path_of_a_module_in_a_namespace_package_over_two_folders(
    tmp_path, monkeypatch, unique
):
    # As Flask: for a module (not a package) in a namespace package spread over
    # two folders, the first part (Flask looks only for packages there).
    write(tmp_path / "a" / unique / "other.py")
    write(tmp_path / "b" / unique / "views.py")
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    assert kolben.Kolben(f"{unique}.views").instance_path == str(tmp_path / "a" / "instance")


def test_instance_path_of_a_module_run_with_python_m(tmp_path, monkeypatch):
    # ``python -m pkg.mod`` from another folder: __main__ has the module's spec,
    # and the instance folder is beside the module, as in Flask (not the
    # working folder, as for a script).
    path = write(tmp_path / "proj" / "pkg" / "mod.py")
    write(tmp_path / "proj" / "pkg" / "__init__.py")
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    main.__spec__ = importlib.util.spec_from_file_location("pkg.mod", path)
    monkeypatch.setitem(sys.modules, "__main__", main)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    app = kolben.Kolben("__main__")
    assert app.name == "mod"
    assert app.root_path == str(tmp_path / "proj" / "pkg")
    assert app.instance_path == str(tmp_path / "proj" / "pkg" / "instance")


def test_root_and_instance_path_of_an_unknown_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert get_root_path("no_such_module_anywhere") == str(tmp_path)
    app = kolben.Kolben("no_such_module_anywhere")
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_interactive_main(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert get_root_path("__main__") == str(tmp_path)
    app = kolben.Kolben("__main__")
    assert app.name == "__main__"
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_a_module_without_spec_or_file(tmp_path, monkeypatch, unique):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, unique, types.ModuleType(unique))
    assert get_root_path(unique) == str(tmp_path)
    assert kolben.Kolben(unique).instance_path == str(tmp_path / "instance")


@kolben_only
def test_root_and_instance_path_of_a_builtin_module(tmp_path, monkeypatch):
    # As Flask: a module without a file has no root path (RuntimeError, pass
    # root_path); its default instance folder is under the working folder.
    from kolben.helpers import find_instance_path

    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="No root path can be found"):
        get_root_path("sys")
    assert find_instance_path("sys", "sys") == str(tmp_path / "instance")


def test_app_name_for_a_script(tmp_path, monkeypatch):
    main = types.ModuleType("__main__")
    main.__file__ = str(tmp_path / "myscript.py")
    monkeypatch.setitem(sys.modules, "__main__", main)
    app = kolben.Kolben("__main__", root_path=str(tmp_path))
    assert app.name == "myscript"
    assert app.logger.name == "myscript"


def test_instance_path_of_an_installed_package(tmp_path, monkeypatch, unique):
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    write(site / unique / "__init__.py")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.syspath_prepend(str(site))
    expected = str(prefix / "var" / f"{unique}-instance")
    assert kolben.Kolben(unique).instance_path == expected
    __import__(unique)
    assert kolben.Kolben(unique).instance_path == expected


def test_instance_path_of_an_installed_module(tmp_path, monkeypatch, unique):
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    write(site / f"{unique}.py")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.syspath_prepend(str(site))
    app = kolben.Kolben(unique)
    assert app.root_path == str(site)
    assert app.instance_path == str(prefix / "var" / f"{unique}-instance")


def test_instance_path_of_a_user_installed_package(tmp_path, monkeypatch, unique):
    user_base = tmp_path / "home" / ".local"
    site = user_base / "lib" / "python3.11" / "site-packages"
    write(site / unique / "__init__.py")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.syspath_prepend(str(site))
    assert kolben.Kolben(unique).instance_path == str(user_base / "var" / f"{unique}-instance")


def test_relative_instance_path_is_rejected():
    with pytest.raises(ValueError, match="must be absolute"):
        kolben.Kolben("x", instance_path="relative/instance")
