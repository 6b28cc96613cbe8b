"""Blueprints: groups of routes, hooks and templates registered on an app later.

A blueprint records what is done to it and replays it on each registration, with
its URL prefix, subdomain and name applied. Blueprints can be nested:
``parent.register_blueprint(child)`` gives endpoints ``parent.child.view``.
"""

from __future__ import annotations

import os
import typing as t
from collections import defaultdict

from . import typing as ft
from .app_setup import T_template_filter, T_template_global, T_template_test, bare_or_named
from .hook_plans import hooks_of
from .scaffold import Scaffold, _endpoint_from_view_func, setupmethod

if t.TYPE_CHECKING:
    from .app import Kolben
    from .wrappers import Request

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
DeferredSetupFunction = t.Callable[["BlueprintSetupState"], None]

_sentinel = object()


class BlueprintSetupState:
    """What a blueprint's recorded functions get when it is registered on an app:
    the app, the options given to ``register_blueprint`` and a helper that adds
    URL rules with the blueprint's prefix, subdomain, defaults and name applied."""

    def __init__(
        self,
        blueprint: Blueprint,
        app: Kolben,
        options: t.Any,
        first_registration: bool,
    ) -> None:
        #: The app the blueprint is registered on.
        self.app = app
        #: The blueprint being registered.
        self.blueprint = blueprint
        #: The options passed to ``register_blueprint``.
        self.options = options
        #: Whether this is the blueprint's first registration on this app.
        self.first_registration = first_registration

        subdomain = self.options.get("subdomain")
        if subdomain is None:
            subdomain = self.blueprint.subdomain
        #: The subdomain the blueprint's rules match on, or None.
        self.subdomain: str | None = subdomain

        url_prefix = self.options.get("url_prefix")
        if url_prefix is None:
            url_prefix = self.blueprint.url_prefix
        #: The prefix added to every rule of the blueprint, or None.
        self.url_prefix: str | None = url_prefix

        #: The name the blueprint is registered under (``name=`` or its own).
        self.name: str = self.options.get("name", blueprint.name)
        #: The dotted name of the parent blueprints, or "".
        self.name_prefix: str = self.options.get("name_prefix", "")
        #: Default URL values for every rule of the blueprint.
        self.url_defaults: dict[str, t.Any] = dict(self.blueprint.url_values_defaults)
        self.url_defaults.update(self.options.get("url_defaults", ()))

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        **options: t.Any,
    ) -> None:
        """Register a rule on the app, with the blueprint's prefix, subdomain,
        defaults and dotted endpoint name."""
        if self.url_prefix is not None:
            if rule:
                rule = "/".join((self.url_prefix.rstrip("/"), rule.lstrip("/")))
            else:
                rule = self.url_prefix
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        defaults = self.url_defaults
        if "defaults" in options:
            defaults = dict(defaults, **options.pop("defaults"))
        self.app.add_url_rule(
            rule,
            f"{self.name_prefix}.{self.name}.{endpoint}".lstrip("."),
            view_func,
            defaults=defaults,
            **options,
        )


def claim_prefix(app: Kolben, state: BlueprintSetupState, name: str) -> None:
    """Record in ``app.owned_prefixes`` that the blueprint registered as ``name``
    owns the URL space under its prefix (longest prefixes first)."""
    prefix = (state.url_prefix or "").rstrip("/")
    if not prefix:
        raise ValueError(
            f"The blueprint '{name}' is registered with owns_prefix=True but without a"
            " URL prefix, so it would own every URL of the app. Give it a"
            " url_prefix (Blueprint(..., url_prefix='/api') or"
            " register_blueprint(bp, url_prefix='/api', owns_prefix=True))."
        )
    subdomain = state.subdomain
    if subdomain is not None and "<" in subdomain:
        raise ValueError(
            f"The blueprint '{name}' has a variable subdomain ({subdomain!r}), which"
            " owns_prefix does not support. Own the prefix on a fixed subdomain."
        )
    for other_prefix, other_subdomain, other in app.owned_prefixes:
        if (other_prefix, other_subdomain) == (prefix, subdomain):
            raise ValueError(
                f"The URL prefix {prefix!r} is already owned by the blueprint"
                f" '{other}'; the blueprint '{name}' can't own it too. Let one of them"
                " own it, or give them different prefixes."
            )
    app.owned_prefixes.append((prefix, subdomain, name))
    app.owned_prefixes.sort(key=lambda entry: len(entry[0]), reverse=True)


def prefix_owner(owned: list[tuple[str, str | None, str]], request: Request) -> str | None:
    """The name of the blueprint owning the URL prefix of ``request``, or None.

    ``owned`` is ``app.owned_prefixes`` (longest prefixes first), so the innermost
    owner wins.
    """
    path = request.path
    for prefix, subdomain, name in owned:
        if (
            path.startswith(prefix)
            and (len(path) == len(prefix) or path[len(prefix)] == "/")
            and (subdomain is None or request.host.partition(":")[0].startswith(f"{subdomain}."))
        ):
            return name
    return None


class Blueprint(Scaffold):
    """A set of routes, hooks, templates and static files to register on an app.

    ::

        bp = Blueprint("auth", __name__, url_prefix="/auth")

        @bp.route("/login")
        def login(): ...

        app.register_blueprint(bp)      # endpoint "auth.login" at /auth/login

    :param name: the blueprint's name, the prefix of its endpoints; no dots.
    :param import_name: the blueprint's package, usually ``__name__``.
    :param static_folder: a static folder served under ``static_url_path``.
    :param static_url_path: the URL of the static folder (default: under the
        blueprint's prefix, ``/<url_prefix>/<static folder name>``).
    :param template_folder: a template folder searched after the app's.
    :param url_prefix: a path prepended to every rule.
    :param subdomain: the subdomain the rules match on.
    :param url_defaults: default values for the view arguments of every rule.
    :param root_path: the folder resources are relative to.
    :param cli_group: the name of the group the blueprint's CLI commands are under
        (default: the blueprint's name; None: directly under the app's).
    :param owns_prefix: the blueprint owns its URL prefix: a request under the
        prefix that matches no route (404) or not with its method (405) is handled
        by this blueprint's hooks and error handlers, as if it were one of its
        routes (``request.blueprint`` names it). Needs a ``url_prefix``; may also
        be passed to ``register_blueprint``. Default False, Flask's behaviour: such
        requests belong to the app alone.
    """

    _got_registered_once = False

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, t.Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = _sentinel,  # type: ignore[assignment]
        owns_prefix: bool = False,
    ) -> None:
        super().__init__(
            import_name=import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if not name:
            raise ValueError(
                "'name' may not be empty. Give the blueprint a name:"
                " Blueprint('name', __name__)."
            )
        if "." in name:
            raise ValueError(
                f"'name' may not contain a dot '.' character (it is {name!r}): dots"
                " separate nested blueprints in endpoint names. Use another name,"
                " and register blueprints inside others with"
                " bp.register_blueprint(child)."
            )
        #: The blueprint's name.
        self.name = name
        #: The prefix of every rule, or None.
        self.url_prefix = url_prefix
        #: The subdomain of every rule, or None.
        self.subdomain = subdomain
        #: Functions called with a :class:`BlueprintSetupState` on registration.
        self.deferred_functions: list[DeferredSetupFunction] = []
        #: Default URL values for every rule.
        self.url_values_defaults: dict[str, t.Any] = url_defaults or {}
        #: Where the blueprint's CLI commands go; see the class docstring.
        self.cli_group = cli_group
        #: Whether the blueprint owns its URL prefix; see the class docstring.
        self.owns_prefix = owns_prefix
        self.cli.name = self.name
        self._blueprints: list[tuple[Blueprint, dict[str, t.Any]]] = []

    def open_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> t.IO[t.Any]:
        """Open a file relative to the blueprint's :attr:`root_path` for reading
        (``"r"``, ``"rt"`` or ``"rb"``); text is read as ``encoding`` (UTF-8
        unless given, as in Flask)."""
        return super().open_resource(resource, mode, encoding)

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_registered_once:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the blueprint"
                f" '{self.name}'. It has already been registered at least once, any"
                " changes will not be applied consistently.\nMake sure all imports,"
                " decorators, functions, etc. needed to set up the blueprint are done"
                " before registering it."
            )

    @setupmethod
    def record(self, func: DeferredSetupFunction) -> None:
        """Call ``func(state)`` each time the blueprint is registered on an app."""
        self.deferred_functions.append(func)

    @setupmethod
    def record_once(self, func: DeferredSetupFunction) -> None:
        """Like :meth:`record`, but only on the first registration on each app."""

        def wrapper(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(wrapper)

    def make_setup_state(
        self, app: Kolben, options: dict[str, t.Any], first_registration: bool = False
    ) -> BlueprintSetupState:
        """Create the state passed to the recorded functions; override to extend."""
        return BlueprintSetupState(self, app, options, first_registration)

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: t.Any) -> None:
        """Nest ``blueprint`` in this one; it is registered with this one, its
        endpoints named ``<this>.<child>.<view>`` and its prefix appended to ours."""
        if blueprint is self:
            raise ValueError("Cannot register a blueprint on itself")
        self._blueprints.append((blueprint, options))

    def register(self, app: Kolben, options: dict[str, t.Any]) -> None:
        """Register the blueprint on ``app``; called by ``app.register_blueprint``.

        Raises ValueError when another blueprint (or this one) already uses the
        name; pass ``name=`` to register a blueprint more than once.
        """
        name_prefix = options.get("name_prefix", "")
        self_name = options.get("name", self.name)
        name = f"{name_prefix}.{self_name}".lstrip(".")

        if name in app.blueprints:
            which = "this" if app.blueprints[name] is self else "a different"
            at = f" '{name}'" if self_name != name else ""
            raise ValueError(
                f"The name '{self_name}' is already registered for {which}"
                f" blueprint{at}. Use 'name=' to provide a unique name"
                " (register_blueprint(bp, name='...'))."
            )

        first_bp_registration = not any(bp is self for bp in app.blueprints.values())
        first_name_registration = name not in app.blueprints
        app.blueprints[name] = self
        self._got_registered_once = True
        state = self.make_setup_state(app, options, first_bp_registration)

        if self.has_static_folder:
            state.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                view_func=self.send_static_file,
                endpoint="static",
            )

        if first_bp_registration or first_name_registration:
            self._merge_blueprint_funcs(app, name)

        if options.get("owns_prefix", self.owns_prefix):
            claim_prefix(app, state, name)

        for deferred in self.deferred_functions:
            deferred(state)

        self._register_cli(app, name, options)

        for blueprint, bp_options in self._blueprints:
            self._register_child(app, state, name, blueprint, bp_options)

    def _register_cli(self, app: Kolben, name: str, options: dict[str, t.Any]) -> None:
        if not self.cli.commands:
            return
        group = options.get("cli_group", self.cli_group)
        if group is None:
            app.cli.commands.update(self.cli.commands)
        else:
            self.cli.name = name if group is _sentinel else group
            app.cli.add_command(self.cli)

    @staticmethod
    def _register_child(
        app: Kolben,
        state: BlueprintSetupState,
        name: str,
        blueprint: Blueprint,
        options: dict[str, t.Any],
    ) -> None:
        options = options.copy()
        url_prefix = options.get("url_prefix")
        subdomain = options.get("subdomain")
        if subdomain is None:
            subdomain = blueprint.subdomain
        if state.subdomain is not None and subdomain is not None:
            options["subdomain"] = f"{subdomain}.{state.subdomain}"
        elif subdomain is not None:
            options["subdomain"] = subdomain
        elif state.subdomain is not None:
            options["subdomain"] = state.subdomain

        if url_prefix is None:
            url_prefix = blueprint.url_prefix
        if state.url_prefix is not None and url_prefix is not None:
            options["url_prefix"] = f"{state.url_prefix.rstrip('/')}/{url_prefix.lstrip('/')}"
        elif url_prefix is not None:
            options["url_prefix"] = url_prefix
        elif state.url_prefix is not None:
            options["url_prefix"] = state.url_prefix

        options["name_prefix"] = name
        blueprint.register(app, options)

    def _merge_blueprint_funcs(self, app: Kolben, name: str) -> None:
        """Copy the blueprint's hooks and handlers into the app, keyed by ``name``."""

        def key_for(key: str | None) -> str:
            return name if key is None else f"{name}.{key}"

        # Functions given with @bp.endpoint(...) name app endpoints, unprefixed.
        app.view_functions.update(self.view_functions)

        for key, by_code in self.error_handler_spec.items():
            app.error_handler_spec[key_for(key)] = defaultdict(
                dict, {code: dict(handlers) for code, handlers in by_code.items()}
            )

        registries: list[tuple[dict[t.Any, list[t.Any]], dict[t.Any, list[t.Any]]]] = [
            (self.before_request_funcs, app.before_request_funcs),
            (self.after_request_funcs, app.after_request_funcs),
            (self.teardown_request_funcs, app.teardown_request_funcs),
            (self.url_default_functions, app.url_default_functions),
            (self.url_value_preprocessors, app.url_value_preprocessors),
            (self.template_context_processors, app.template_context_processors),
            (self.before_websocket_funcs, app.before_websocket_funcs),
            (self.after_websocket_funcs, app.after_websocket_funcs),
            (self.teardown_websocket_funcs, app.teardown_websocket_funcs),
        ]
        for bp_dict, app_dict in registries:
            for key, values in bp_dict.items():
                hooks_of(app_dict, key_for(key)).extend(values)

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Record a URL rule, registered on the app with the blueprint's name as the
        endpoint prefix (``"bp.view"``). Neither ``endpoint`` nor the view's name
        may contain a dot."""
        if endpoint and "." in endpoint:
            raise ValueError(
                f"'endpoint' may not contain a dot '.' character (it is {endpoint!r})."
            )
        if view_func is not None and "." in getattr(view_func, "__name__", ""):
            raise ValueError(
                "'view_func' name may not contain a dot '.' character (it is"
                f" {view_func.__name__!r}); rename the function or pass endpoint=."
            )
        self.record(
            lambda s: s.add_url_rule(
                rule,
                endpoint,
                view_func,
                provide_automatic_options=provide_automatic_options,
                **options,
            )
        )

    # -- registering on the whole app ----------------------------------------------

    @t.overload
    def app_template_filter(self, name: T_template_filter) -> T_template_filter: ...
    @t.overload
    def app_template_filter(
        self, name: str | None = None
    ) -> t.Callable[[T_template_filter], T_template_filter]: ...
    @setupmethod
    def app_template_filter(
        self, name: T_template_filter | str | None = None
    ) -> T_template_filter | t.Callable[[T_template_filter], T_template_filter]:
        """Register a template filter for the whole app (``@app.template_filter``):
        ``@bp.app_template_filter()``, ``@bp.app_template_filter("name")``, or bare
        ``@bp.app_template_filter`` as on the app."""
        return bare_or_named(self.add_app_template_filter, name)

    @setupmethod
    def add_app_template_filter(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Register ``f`` as a template filter for the whole app."""
        self.record_once(lambda s: s.app.add_template_filter(f, name=name))

    @t.overload
    def app_template_test(self, name: T_template_test) -> T_template_test: ...
    @t.overload
    def app_template_test(
        self, name: str | None = None
    ) -> t.Callable[[T_template_test], T_template_test]: ...
    @setupmethod
    def app_template_test(
        self, name: T_template_test | str | None = None
    ) -> T_template_test | t.Callable[[T_template_test], T_template_test]:
        """Register a template test for the whole app (``@app.template_test``):
        ``@bp.app_template_test()``, ``@bp.app_template_test("name")``, or bare
        ``@bp.app_template_test`` as on the app."""
        return bare_or_named(self.add_app_template_test, name)

    @setupmethod
    def add_app_template_test(self, f: t.Callable[..., bool], name: str | None = None) -> None:
        """Register ``f`` as a template test for the whole app."""
        self.record_once(lambda s: s.app.add_template_test(f, name=name))

    @t.overload
    def app_template_global(self, name: T_template_global) -> T_template_global: ...
    @t.overload
    def app_template_global(
        self, name: str | None = None
    ) -> t.Callable[[T_template_global], T_template_global]: ...
    @setupmethod
    def app_template_global(
        self, name: T_template_global | str | None = None
    ) -> T_template_global | t.Callable[[T_template_global], T_template_global]:
        """Register a template global for the whole app (``@app.template_global``):
        ``@bp.app_template_global()``, ``@bp.app_template_global("name")``, or bare
        ``@bp.app_template_global`` as on the app."""
        return bare_or_named(self.add_app_template_global, name)

    @setupmethod
    def add_app_template_global(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Register ``f`` as a template global for the whole app."""
        self.record_once(lambda s: s.app.add_template_global(f, name=name))

    @setupmethod
    def before_app_request(self, f: F) -> F:
        """Like :meth:`before_request`, for every request to the app."""
        self.record_once(lambda s: hooks_of(s.app.before_request_funcs, None).append(f))
        return f

    @setupmethod
    def after_app_request(self, f: F) -> F:
        """Like :meth:`after_request`, for every request to the app."""
        self.record_once(lambda s: hooks_of(s.app.after_request_funcs, None).append(f))
        return f

    @setupmethod
    def teardown_app_request(self, f: F) -> F:
        """Like :meth:`teardown_request`, for every request to the app."""
        self.record_once(lambda s: hooks_of(s.app.teardown_request_funcs, None).append(f))
        return f

    @setupmethod
    def before_app_websocket(self, f: F) -> F:
        """Like :meth:`before_websocket`, for every websocket of the app."""
        self.record_once(lambda s: s.app.before_websocket_funcs.setdefault(None, []).append(f))
        return f

    @setupmethod
    def after_app_websocket(self, f: F) -> F:
        """Like :meth:`after_websocket`, for every websocket of the app."""
        self.record_once(lambda s: s.app.after_websocket_funcs.setdefault(None, []).append(f))
        return f

    @setupmethod
    def teardown_app_websocket(self, f: F) -> F:
        """Like :meth:`teardown_websocket`, for every websocket of the app."""
        self.record_once(
            lambda s: s.app.teardown_websocket_funcs.setdefault(None, []).append(f)
        )
        return f

    @setupmethod
    def before_app_serving(self, f: F) -> F:
        """The app's :meth:`~kolben.Kolben.before_serving`, from the blueprint
        (Quart's name)."""
        self.record_once(lambda s: s.app.before_serving_funcs.append(f))
        return f

    @setupmethod
    def after_app_serving(self, f: F) -> F:
        """The app's :meth:`~kolben.Kolben.after_serving`, from the blueprint
        (Quart's name)."""
        self.record_once(lambda s: s.app.after_serving_funcs.append(f))
        return f

    @setupmethod
    def while_app_serving(self, f: F) -> F:
        """The app's :meth:`~kolben.Kolben.while_serving`, from the blueprint
        (Quart's name)."""
        self.record_once(lambda s: s.app.while_serving_funcs.append(f))
        return f

    @setupmethod
    def app_context_processor(self, f: F) -> F:
        """Like :meth:`context_processor`, for every template the app renders."""
        self.record_once(
            lambda s: s.app.template_context_processors.setdefault(None, []).append(f)
        )
        return f

    @setupmethod
    def app_errorhandler(self, code: type[Exception] | int) -> t.Callable[[F], F]:
        """Like :meth:`errorhandler`, for errors anywhere in the app."""

        def decorator(f: F) -> F:
            def from_blueprint(state: BlueprintSetupState) -> None:
                state.app.errorhandler(code)(f)

            self.record_once(from_blueprint)
            return f

        return decorator

    @setupmethod
    def app_url_value_preprocessor(self, f: F) -> F:
        """Like :meth:`url_value_preprocessor`, for every request to the app."""
        self.record_once(lambda s: s.app.url_value_preprocessors.setdefault(None, []).append(f))
        return f

    @setupmethod
    def app_url_defaults(self, f: F) -> F:
        """Like :meth:`url_defaults`, for every URL the app builds."""
        self.record_once(lambda s: s.app.url_default_functions.setdefault(None, []).append(f))
        return f
