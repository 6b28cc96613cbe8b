"""Config: defaults, the debug flag from the environment (``FLASK_DEBUG``,
``KOLBEN_DEBUG``), the from_* loaders, namespaces, the config-backed app properties,
and the instance folder / resource helpers."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from datetime import timedelta

import pytest

import kolben
from helpers import RUNNING_ON_FLASK, kolben_only
from kolben.config import Config
from kolben.helpers import get_debug_flag

HERE = os.path.dirname(os.path.abspath(__file__))

# Flask 3.1's default_config (DEBUG is resolved from the environment when the app is made)
FLASK_31_DEFAULTS = {
    "DEBUG": None,
    "TESTING": False,
    "PROPAGATE_EXCEPTIONS": None,
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "USE_X_SENDFILE": False,
    "TRUSTED_HOSTS": None,
    "SERVER_NAME": None,
    "APPLICATION_ROOT": "/",
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": None,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    "TRAP_BAD_REQUEST_ERRORS": None,
    "TRAP_HTTP_EXCEPTIONS": False,
    "EXPLAIN_TEMPLATE_LOADING": False,
    "PREFERRED_URL_SCHEME": "http",
    "TEMPLATES_AUTO_RELOAD": None,
    "MAX_COOKIE_SIZE": 4093,
    "PROVIDE_AUTOMATIC_OPTIONS": True,
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No stray FLASK_* / KOLBEN_* variables from the outer environment."""
    for key in list(os.environ):
        if key.startswith(("FLASK_", "KOLBEN_", "MYAPP_")) or key == "APP_SETTINGS":
            monkeypatch.delenv(key)


class DevConfig:
    DEBUG_TOOLBAR = True
    SECRET_KEY = "dev"
    lowercase_ignored = "nope"
    _Private = 1


class ChildConfig(DevConfig):
    EXTRA = "child"


# --- Config basics and defaults ---------------------------------------------------


def test_config_is_a_dict(app):
    assert isinstance(app.config, Config)
    assert isinstance(app.config, dict)
    assert isinstance(app.config, kolben.Config)


def test_config_constructor_defaults():
    cfg = Config("/root", {"A": 1})
    assert cfg == {"A": 1}
    assert cfg.root_path == "/root"
    cfg["B"] = 2
    assert cfg["B"] == 2


def test_config_root_path_is_app_root(app):
    assert app.config.root_path == app.root_path


def test_config_repr():
    cfg = Config("/root", {"KEY": "value"})
    r = repr(cfg)
    assert r.startswith("<Config")
    assert "KEY" in r
    assert "value" in r


def test_default_config_values():
    app = kolben.Kolben("defaults_app")
    for key, value in FLASK_31_DEFAULTS.items():
        if key == "DEBUG":
            continue
        assert key in app.config, key
        assert app.config[key] == value, key
    assert app.config["DEBUG"] is False


def test_default_config_class_attribute():
    for key, value in FLASK_31_DEFAULTS.items():
        assert kolben.Kolben.default_config[key] == value, key


@pytest.mark.skipif(RUNNING_ON_FLASK, reason="trivially true when kolben is Flask")
def test_default_config_matches_flask():
    flask = pytest.importorskip("flask")
    flask_defaults = dict(flask.Flask.default_config)
    ours = dict(kolben.Kolben.default_config)
    for key, value in flask_defaults.items():
        assert key in ours, key
        assert ours[key] == value, key


def test_debug_from_flask_debug_env(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = kolben.Kolben("debug_env_app")
    assert app.debug is True
    assert app.config["DEBUG"] is True


def test_debug_false_values_in_env(monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "0")
    app = kolben.Kolben("debug_env_app")
    assert app.debug is False


# --- the debug flag from the environment --------------------------------------------------


@pytest.fixture
def clean_debug_env(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("KOLBEN_DEBUG", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("yes", True), ("0", False), ("false", False),
     ("False", False), ("no", False), ("NO", False), ("", False)],
)
def test_flask_debug_variable(clean_debug_env, value, expected):
    clean_debug_env.setenv("FLASK_DEBUG", value)
    assert get_debug_flag() is expected
    assert kolben.Kolben("x").debug is expected


def test_debug_flag_unset(clean_debug_env):
    assert get_debug_flag() is False
    assert kolben.Kolben("x").debug is False


@kolben_only
@pytest.mark.parametrize(
    ("kolben_value", "flask_value", "expected"),
    [("1", None, True), ("0", None, False), ("false", "1", False), ("no", "1", False),
     ("1", "0", True), ("", "1", True)],
)
def test_kolben_debug_variable_wins(clean_debug_env, kolben_value, flask_value, expected):
    clean_debug_env.setenv("KOLBEN_DEBUG", kolben_value)
    if flask_value is not None:
        clean_debug_env.setenv("FLASK_DEBUG", flask_value)
    assert get_debug_flag() is expected
    assert kolben.Kolben("x").debug is expected


# --- config-backed properties --------------------------------------------------------


def test_debug_property(app):
    assert app.debug is False
    app.debug = True
    assert app.config["DEBUG"] is True
    assert app.debug is True
    app.config["DEBUG"] = False
    assert app.debug is False


def test_testing_property(app):
    assert app.testing is True
    app.testing = False
    assert app.config["TESTING"] is False
    app.config["TESTING"] = True
    assert app.testing is True


def test_secret_key_property(app):
    assert app.secret_key == "test key"
    app.secret_key = "other"
    assert app.config["SECRET_KEY"] == "other"
    app.config["SECRET_KEY"] = "third"
    assert app.secret_key == "third"


# --- from_object ----------------------------------------------------------------------


def test_from_object_instance(app):
    obj = DevConfig()
    app.config.from_object(obj)
    assert app.config["DEBUG_TOOLBAR"] is True
    assert app.config["SECRET_KEY"] == "dev"
    assert "lowercase_ignored" not in app.config
    assert "_Private" not in app.config


def test_from_object_class_with_inheritance(app):
    app.config.from_object(ChildConfig)
    assert app.config["EXTRA"] == "child"
    assert app.config["SECRET_KEY"] == "dev"
    assert "lowercase_ignored" not in app.config


def test_from_object_import_string(app):
    app.config.from_object(f"{__name__}.DevConfig")
    assert app.config["DEBUG_TOOLBAR"] is True


def test_from_object_module_string(app, tmp_path, monkeypatch):
    (tmp_path / "kolben_cfg_mod.py").write_text("FROM_MODULE = 42\nlower = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        app.config.from_object("kolben_cfg_mod")
    finally:
        sys.modules.pop("kolben_cfg_mod", None)
    assert app.config["FROM_MODULE"] == 42
    assert "lower" not in app.config


def test_from_object_bad_import_string(app):
    with pytest.raises(ImportError):
        app.config.from_object("no_such_module_kolben_xyz.Config")


def test_from_object_overrides_existing(app):
    app.config["SECRET_KEY"] = "before"
    app.config.from_object(DevConfig)
    assert app.config["SECRET_KEY"] == "dev"


# --- from_pyfile ----------------------------------------------------------------------


def test_from_pyfile(app, tmp_path):
    path = tmp_path / "settings.cfg"
    path.write_text("SECRET_KEY = 'from file'\nNUMBER = 6 * 7\nlower = 'ignored'\n")
    assert app.config.from_pyfile(str(path)) is True
    assert app.config["SECRET_KEY"] == "from file"
    assert app.config["NUMBER"] == 42
    assert "lower" not in app.config


def test_from_pyfile_pathlike(app, tmp_path):
    path = tmp_path / "settings.py"
    path.write_text("PATHLIKE = True\n")
    assert app.config.from_pyfile(path) is True
    assert app.config["PATHLIKE"] is True


def test_from_pyfile_relative_to_root_path(tmp_path):
    (tmp_path / "rel.cfg").write_text("REL = 'yes'\n")
    app = kolben.Kolben("relapp", root_path=str(tmp_path))
    assert app.config.from_pyfile("rel.cfg") is True
    assert app.config["REL"] == "yes"


def test_from_pyfile_missing_raises(app, tmp_path):
    with pytest.raises(OSError, match="Unable to load configuration file") as info:
        app.config.from_pyfile(str(tmp_path / "missing.cfg"))
    assert "missing.cfg" in str(info.value)


def test_from_pyfile_missing_silent(app, tmp_path):
    assert app.config.from_pyfile(str(tmp_path / "missing.cfg"), silent=True) is False


def test_from_pyfile_directory_silent(app, tmp_path):
    assert app.config.from_pyfile(str(tmp_path), silent=True) is False


def test_from_pyfile_syntax_error_propagates(app, tmp_path):
    path = tmp_path / "broken.cfg"
    path.write_text("THIS IS = not python\n")
    with pytest.raises(SyntaxError):
        app.config.from_pyfile(str(path))


def test_from_pyfile_runtime_error_propagates(app, tmp_path):
    path = tmp_path / "raises.cfg"
    path.write_text("X = 1 / 0\n")
    with pytest.raises(ZeroDivisionError):
        app.config.from_pyfile(str(path), silent=True)


# --- from_envvar ----------------------------------------------------------------------


def test_from_envvar(app, tmp_path, monkeypatch):
    path = tmp_path / "env.cfg"
    path.write_text("FROM_ENVVAR = 'ok'\n")
    monkeypatch.setenv("APP_SETTINGS", str(path))
    assert app.config.from_envvar("APP_SETTINGS") is True
    assert app.config["FROM_ENVVAR"] == "ok"


def test_from_envvar_unset_raises(app):
    with pytest.raises(RuntimeError, match="is not set") as info:
        app.config.from_envvar("APP_SETTINGS")
    assert "APP_SETTINGS" in str(info.value)


def test_from_envvar_unset_silent(app):
    assert app.config.from_envvar("APP_SETTINGS", silent=True) is False


def test_from_envvar_missing_file(app, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_SETTINGS", str(tmp_path / "nope.cfg"))
    with pytest.raises(OSError, match="Unable to load configuration file"):
        app.config.from_envvar("APP_SETTINGS")
    assert app.config.from_envvar("APP_SETTINGS", silent=True) is False


# --- from_mapping ---------------------------------------------------------------------


def test_from_mapping_mapping(app):
    assert app.config.from_mapping({"UPPER": 1, "lower": 2}) is True
    assert app.config["UPPER"] == 1
    assert "lower" not in app.config


def test_from_mapping_kwargs(app):
    app.config.from_mapping(SECRET_KEY="kw", other="ignored")
    assert app.config["SECRET_KEY"] == "kw"
    assert "other" not in app.config


def test_from_mapping_both(app):
    app.config.from_mapping({"A_KEY": 1}, B_KEY=2)
    assert app.config["A_KEY"] == 1
    assert app.config["B_KEY"] == 2


def test_from_mapping_kwargs_win_over_mapping(app):
    app.config.from_mapping({"SAME": "mapping"}, SAME="kwargs")
    assert app.config["SAME"] == "kwargs"


def test_from_mapping_pairs(app):
    app.config.from_mapping([("PAIR", "x")])
    assert app.config["PAIR"] == "x"


def test_from_mapping_nothing(app):
    before = dict(app.config)
    assert app.config.from_mapping() is True
    assert dict(app.config) == before


# --- from_file -------------------------------------------------------------------------


def test_from_file_json(app, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"JSON_KEY": [1, 2], "lower": True}))
    assert app.config.from_file(str(path), load=json.load) is True
    assert app.config["JSON_KEY"] == [1, 2]
    assert "lower" not in app.config


def test_from_file_toml_binary(app, tmp_path):
    tomllib = pytest.importorskip("tomllib")
    path = tmp_path / "config.toml"
    path.write_text('TOML_KEY = "value"\nPORT = 8000\n[DATABASE]\nhost = "db"\n')
    assert app.config.from_file(str(path), load=tomllib.load, text=False) is True
    assert app.config["TOML_KEY"] == "value"
    assert app.config["PORT"] == 8000
    assert app.config["DATABASE"] == {"host": "db"}


def test_from_file_relative_to_root(tmp_path):
    (tmp_path / "c.json").write_text('{"REL_JSON": 1}')
    app = kolben.Kolben("fileapp", root_path=str(tmp_path))
    app.config.from_file("c.json", load=json.load)
    assert app.config["REL_JSON"] == 1


def test_from_file_missing(app, tmp_path):
    with pytest.raises(OSError, match="Unable to load configuration file"):
        app.config.from_file(str(tmp_path / "missing.json"), load=json.load)
    assert app.config.from_file(str(tmp_path / "missing.json"), json.load, silent=True) is False


def test_from_file_load_error_propagates(app, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError):
        app.config.from_file(str(path), load=json.load)


# --- from_prefixed_env -----------------------------------------------------------------


def test_from_prefixed_env_custom_prefix(app, monkeypatch):
    monkeypatch.setenv("MYAPP_STRING", "value")
    monkeypatch.setenv("MYAPP_INT", "1")
    monkeypatch.setenv("MYAPP_FLOAT", "1.2")
    monkeypatch.setenv("MYAPP_BOOL", "true")
    monkeypatch.setenv("MYAPP_LIST", "[1, 2]")
    monkeypatch.setenv("MYAPP_DICT", '{"k": "v"}')
    monkeypatch.setenv("MYAPP_QUOTED", '"quoted"')
    monkeypatch.setenv("MYAPP_NULL", "null")
    monkeypatch.setenv("OTHER_IGNORED", "x")
    assert app.config.from_prefixed_env("MYAPP") is True
    assert app.config["STRING"] == "value"
    assert app.config["INT"] == 1
    assert app.config["FLOAT"] == 1.2
    assert app.config["BOOL"] is True
    assert app.config["LIST"] == [1, 2]
    assert app.config["DICT"] == {"k": "v"}
    assert app.config["QUOTED"] == "quoted"
    assert app.config["NULL"] is None
    assert "IGNORED" not in app.config
    assert "OTHER_IGNORED" not in app.config


def test_from_prefixed_env_prefix_needs_underscore(app, monkeypatch):
    monkeypatch.setenv("MYAPPX", "1")
    app.config.from_prefixed_env("MYAPP")
    assert "X" not in app.config


def test_from_prefixed_env_flask_prefix_by_default(app, monkeypatch):
    monkeypatch.setenv("FLASK_SECRET_KEY", "from env")
    monkeypatch.setenv("FLASK_MAX_CONTENT_LENGTH", "1024")
    assert app.config.from_prefixed_env() is True
    assert app.config["SECRET_KEY"] == "from env"
    assert app.config["MAX_CONTENT_LENGTH"] == 1024


def test_from_prefixed_env_custom_prefix_only(app, monkeypatch):
    monkeypatch.setenv("FLASK_NOT_THIS", "1")
    monkeypatch.setenv("KOLBEN_NOR_THIS", "1")
    monkeypatch.setenv("MYAPP_THIS", "1")
    app.config.from_prefixed_env(prefix="MYAPP")
    assert app.config["THIS"] == 1
    assert "NOT_THIS" not in app.config
    assert "NOR_THIS" not in app.config


def test_from_prefixed_env_nested(app, monkeypatch):
    monkeypatch.setenv("MYAPP_DB__HOST", "localhost")
    monkeypatch.setenv("MYAPP_DB__PORT", "5432")
    monkeypatch.setenv("MYAPP_DB__OPTS__SSL", "true")
    app.config.from_prefixed_env("MYAPP")
    assert app.config["DB"] == {"HOST": "localhost", "PORT": 5432, "OPTS": {"SSL": True}}


def test_from_prefixed_env_nested_into_existing(app, monkeypatch):
    app.config["DB"] = {"NAME": "app", "HOST": "old"}
    monkeypatch.setenv("MYAPP_DB__HOST", "new")
    app.config.from_prefixed_env("MYAPP")
    assert app.config["DB"] == {"NAME": "app", "HOST": "new"}


def test_from_prefixed_env_custom_loads(app, monkeypatch):
    monkeypatch.setenv("MYAPP_A", "1")
    monkeypatch.setenv("MYAPP_B", "abc")
    app.config.from_prefixed_env("MYAPP", loads=lambda v: f"<{v}>")
    assert app.config["A"] == "<1>"
    assert app.config["B"] == "<abc>"


def test_from_prefixed_env_loads_error_falls_back_to_string(app, monkeypatch):
    def picky(value):
        if value == "bad":
            raise ValueError(value)
        return int(value)

    monkeypatch.setenv("MYAPP_GOOD", "3")
    monkeypatch.setenv("MYAPP_BAD", "bad")
    app.config.from_prefixed_env("MYAPP", loads=picky)
    assert app.config["GOOD"] == 3
    assert app.config["BAD"] == "bad"


@kolben_only
def test_from_prefixed_env_kolben_prefix_default(app, monkeypatch):
    monkeypatch.setenv("KOLBEN_SECRET_KEY", "kolben env")
    monkeypatch.setenv("KOLBEN_DB__HOST", "db.local")
    assert app.config.from_prefixed_env() is True
    assert app.config["SECRET_KEY"] == "kolben env"
    assert app.config["DB"] == {"HOST": "db.local"}


@kolben_only
def test_from_prefixed_env_kolben_wins_over_flask(app, monkeypatch):
    monkeypatch.setenv("FLASK_WHO", '"flask"')
    monkeypatch.setenv("KOLBEN_WHO", '"kolben"')
    monkeypatch.setenv("FLASK_ONLY_FLASK", "1")
    app.config.from_prefixed_env()
    assert app.config["WHO"] == "kolben"
    assert app.config["ONLY_FLASK"] == 1


# --- get_namespace ----------------------------------------------------------------------


@pytest.fixture
def image_config(app):
    app.config.update(
        IMAGE_STORE_TYPE="fs",
        IMAGE_STORE_PATH="/var/app/images",
        IMAGE_STORE_BASE_URL="http://img.website.com",
        OTHER="x",
    )
    return app.config


def test_get_namespace_default(image_config):
    assert image_config.get_namespace("IMAGE_STORE_") == {
        "type": "fs",
        "path": "/var/app/images",
        "base_url": "http://img.website.com",
    }


def test_get_namespace_keep_case(image_config):
    assert image_config.get_namespace("IMAGE_STORE_", lowercase=False) == {
        "TYPE": "fs",
        "PATH": "/var/app/images",
        "BASE_URL": "http://img.website.com",
    }


def test_get_namespace_no_trim(image_config):
    assert image_config.get_namespace("IMAGE_STORE_", trim_namespace=False) == {
        "image_store_type": "fs",
        "image_store_path": "/var/app/images",
        "image_store_base_url": "http://img.website.com",
    }


def test_get_namespace_no_match(image_config):
    assert image_config.get_namespace("NOTHING_") == {}


# --- instance folder and resources ----------------------------------------------------------


def test_instance_path_default_for_module():
    app = kolben.Kolben(__name__)
    assert app.root_path == HERE
    assert app.instance_path == os.path.join(app.root_path, "instance")


def test_instance_path_explicit(tmp_path):
    app = kolben.Kolben(__name__, instance_path=str(tmp_path))
    assert app.instance_path == str(tmp_path)


def test_instance_path_relative_rejected():
    with pytest.raises(ValueError, match="absolute"):
        kolben.Kolben(__name__, instance_path="relative/instance")


def test_instance_relative_config(tmp_path):
    (tmp_path / "settings.cfg").write_text("FROM_INSTANCE = True\n")
    app = kolben.Kolben(__name__, instance_path=str(tmp_path), instance_relative_config=True)
    assert app.config.root_path == str(tmp_path)
    assert app.config.from_pyfile("settings.cfg") is True
    assert app.config["FROM_INSTANCE"] is True


def test_config_not_instance_relative_by_default(tmp_path):
    (tmp_path / "settings.cfg").write_text("FROM_INSTANCE = True\n")
    app = kolben.Kolben(__name__, instance_path=str(tmp_path))
    assert app.config.root_path == app.root_path
    assert app.config.from_pyfile("settings.cfg", silent=True) is False


@pytest.fixture
def res_app(tmp_path):
    (tmp_path / "file.txt").write_text("hello resource\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    return kolben.Kolben("resapp", root_path=str(tmp_path))


def test_open_resource_binary_default(res_app):
    with res_app.open_resource("file.txt") as f:
        assert f.read() == b"hello resource\n"


def test_open_resource_text_mode(res_app):
    with res_app.open_resource("file.txt", "r") as f:
        assert f.read() == "hello resource\n"
    with res_app.open_resource("file.txt", "rt") as f:
        assert f.read() == "hello resource\n"


def test_open_resource_text_with_encoding(res_app, tmp_path):
    (tmp_path / "latin.txt").write_bytes("grüß".encode("latin-1"))
    with res_app.open_resource("latin.txt", "r", encoding="latin-1") as f:
        assert f.read() == "grüß"


def test_open_resource_subdirectory(res_app):
    with res_app.open_resource("sub/data.bin") as f:
        assert f.read() == b"\x00\x01"


@pytest.mark.parametrize("mode", ["w", "wb", "a", "r+", "x"])
def test_open_resource_write_mode_rejected(res_app, mode):
    with pytest.raises(ValueError):
        res_app.open_resource("file.txt", mode)


def test_open_resource_missing(res_app):
    with pytest.raises(FileNotFoundError):
        res_app.open_resource("missing.txt")


def test_open_instance_resource_write_and_read(tmp_path):
    inst = tmp_path / "instance"
    inst.mkdir()
    app = kolben.Kolben("instapp", root_path=str(tmp_path), instance_path=str(inst))
    with app.open_instance_resource("out.txt", "w") as f:
        f.write("written")
    assert (inst / "out.txt").read_text() == "written"
    with app.open_instance_resource("out.txt") as f:
        assert f.read() == b"written"
    with app.open_instance_resource("out.txt", "r") as f:
        assert f.read() == "written"


def test_open_instance_resource_binary_write(tmp_path):
    app = kolben.Kolben("instapp", root_path=str(tmp_path), instance_path=str(tmp_path))
    with app.open_instance_resource("blob.bin", "wb") as f:
        f.write(b"\xff")
    assert (tmp_path / "blob.bin").read_bytes() == b"\xff"


def test_config_from_pyfile_with_dedent(app, tmp_path):
    path = tmp_path / "multi.cfg"
    path.write_text(
        textwrap.dedent(
            """
            import os
            BASE = "base"
            DERIVED = BASE + "/derived"
            PATH_SEP = os.sep
            """
        )
    )
    app.config.from_pyfile(str(path))
    assert app.config["DERIVED"] == "base/derived"
    assert app.config["PATH_SEP"] == os.sep
    assert "os" not in app.config
