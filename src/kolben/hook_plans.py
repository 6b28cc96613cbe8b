"""Hook registries that know when they change, and the plans made from them.

The request hooks (``before_request_funcs``, ``after_request_funcs``,
``teardown_request_funcs``) are registered by blueprint name, and a request runs
those of the app and of each blueprint in its chain, in an order Flask defines.
Working that out per request (the chain's names, a lookup per name, whether each
list is all sync or all ``async def``) cost more than running four small hooks.

So each registry is a :class:`HookRegistry`: still the ``defaultdict(list)`` Flask
documents, whose lists (:class:`HookList`) tell it when they change. It keeps, per
blueprint name, the **plan** of its stage: the steps to yield for a request of that
blueprint, made once and forgotten as soon as anything in the registry changes, by
a decorator, a blueprint's registration, or code that edits the lists or the dict
directly (as some extensions do: ``app.before_request_funcs.setdefault(None,
[]).insert(0, check)``).

A plan is a tuple of ``(func, funcs)`` pairs: ``funcs`` is a list of hooks that
are all of one kind, run by ``func`` as one step (see :mod:`kolben.pipeline`), or
None when ``func`` is one hook run as a step of its own (a list of mixed kinds, or
an app whose own ``ensure_sync`` must see each function).
"""

from __future__ import annotations

import typing as t
import weakref
from collections import defaultdict

from .concurrency import is_async_callable

F = t.Callable[..., t.Any]
#: One entry of a plan: a runner and the list it runs, or a hook and None.
PlanEntry = tuple[F, "list[F] | None"]
Plan = tuple[PlanEntry, ...]

__all__ = ["HookList", "HookRegistry", "Plan", "PlanEntry", "hooks_of", "make_plan"]


class HookList(list[F]):
    """A registry's list of hooks: a ``list`` that tells its registry when it
    changes, so the registry's plans are made again."""

    __slots__ = ("_registry",)

    def __init__(self, iterable: t.Iterable[F] = (), registry: HookRegistry | None = None) -> None:
        super().__init__(iterable)
        #: The registry this list tells of its changes, held weakly (no cycle).
        self._registry: weakref.ref[HookRegistry] | None = (
            None if registry is None else weakref.ref(registry)
        )

    def owned_by(self, registry: HookRegistry) -> bool:
        """Whether this list tells ``registry`` of its changes."""
        return self._registry is not None and self._registry() is registry

    def _changed(self) -> None:
        registry = None if self._registry is None else self._registry()
        if registry is not None:
            registry.forget_plans()

    def append(self, value: F) -> None:
        super().append(value)
        self._changed()

    def extend(self, values: t.Iterable[F]) -> None:
        super().extend(values)
        self._changed()

    def insert(self, index: t.SupportsIndex, value: F) -> None:
        super().insert(index, value)
        self._changed()

    def remove(self, value: F) -> None:
        super().remove(value)
        self._changed()

    def pop(self, index: t.SupportsIndex = -1) -> F:
        value = super().pop(index)
        self._changed()
        return value

    def clear(self) -> None:
        super().clear()
        self._changed()

    def sort(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()

    def __setitem__(self, index: t.Any, value: t.Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: t.Any) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, values: t.Iterable[F]) -> HookList:  # type: ignore[override,misc]
        super().__iadd__(values)
        self._changed()
        return self

    def __imul__(self, count: t.SupportsIndex) -> HookList:
        super().__imul__(count)
        self._changed()
        return self

    def __reduce__(self) -> t.Any:
        return (HookList, (list(self),))


class HookRegistry(defaultdict[t.Any, list[F]]):
    """``{blueprint name or None: [hooks]}``, a ``defaultdict(list)`` whose lists
    are :class:`HookList` s, with the plans made from it (see the module).

    A list put in by other code (``registry[name] = [f]``) is kept as it is, the
    very object, as in Flask; a plan that uses such a list is made again for each
    request, since the list can change without telling the registry.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        if args and (args[0] is None or callable(args[0])):
            args = args[1:]  # defaultdict's default_factory: always a list here
        super().__init__(HookList)
        #: Plans by blueprint chain (None for the app alone).
        self.plans: dict[t.Any, Plan] = {}
        #: The plan of every chain, when no blueprint has hooks here (see
        #: :meth:`chain_free`): the pipeline then needs no blueprint chain.
        self.any_chain_plan: Plan | None = None
        if args or kwargs:
            self.update(*args, **kwargs)

    def __missing__(self, key: t.Any) -> list[F]:
        # A new list tells this registry of its changes (default_factory, a bound
        # method, would make a reference cycle).
        value = HookList((), self)
        super().__setitem__(key, value)
        return value

    def forget_plans(self) -> None:
        """Drop every plan: something in the registry changed."""
        if self.plans:
            self.plans = {}
        self.any_chain_plan = None

    def chain_free(self) -> bool:
        """Whether a plan made now holds for every blueprint chain: every list
        but the app's (None) is empty and tells this registry when it changes."""
        return all(
            not funcs and self.follows(funcs) for key, funcs in self.items() if key is not None
        )

    def follows(self, funcs: list[F]) -> bool:
        """Whether ``funcs`` tells this registry when it changes (a plan made
        from it may be kept)."""
        return type(funcs) is HookList and funcs.owned_by(self)

    def __setitem__(self, key: t.Any, value: list[F]) -> None:
        if type(value) is HookList and value._registry is None:
            value._registry = weakref.ref(self)  # a new list: it tells this registry
        super().__setitem__(key, value)
        self.forget_plans()

    def __delitem__(self, key: t.Any) -> None:
        super().__delitem__(key)
        self.forget_plans()

    def setdefault(self, key: t.Any, default: list[F] | None = None) -> list[F]:
        if key in self:
            return self[key]
        if default is None:
            default = HookList()
        self[key] = default
        return default

    def update(self, *args: t.Any, **kwargs: t.Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: t.Any) -> HookRegistry:  # type: ignore[override,misc]
        self.update(other)
        return self

    def pop(self, key: t.Any, *default: t.Any) -> t.Any:
        value = super().pop(key, *default)
        self.forget_plans()
        return value

    def popitem(self) -> tuple[t.Any, list[F]]:
        item = super().popitem()
        self.forget_plans()
        return item

    def clear(self) -> None:
        super().clear()
        self.forget_plans()

    def copy(self) -> HookRegistry:
        return HookRegistry({key: HookList(value) for key, value in self.items()})

    def __copy__(self) -> HookRegistry:
        return self.copy()

    def __reduce__(self) -> t.Any:
        return (HookRegistry, ({key: list(value) for key, value in self.items()},))


def hooks_of(registry: dict[t.Any, list[F]], key: t.Any) -> list[F]:
    """The list of hooks for ``key`` in ``registry``, added when missing
    (``registry.setdefault(key, [])``, with a list that tells a
    :class:`HookRegistry` when it changes)."""
    return registry.setdefault(key, HookList())


def make_plan(
    registry: t.Mapping[t.Any, list[F]],
    names: t.Iterable[str | None],
    one_step_each: bool,
    in_reverse: bool,
    sync_runner: F,
    async_runner: F,
) -> tuple[Plan, bool]:
    """The plan of a stage, and whether it may be kept until the registry
    changes (every list it used belongs to the registry, see
    :class:`HookRegistry`).

    For each name in ``names`` (in order), its hooks (last registered first if
    ``in_reverse``) are one step run by ``sync_runner`` or ``async_runner`` when
    all are of that kind, else one step per hook. ``one_step_each`` makes every
    hook a step of its own (an app's own ``ensure_sync`` must see each
    function).
    """
    plan: list[PlanEntry] = []
    keep = True
    for name in names:
        funcs = registry.get(name)
        if funcs is None:
            continue
        if not (isinstance(registry, HookRegistry) and registry.follows(funcs)):
            keep = False
        if not funcs:
            continue
        if len(funcs) > 1 and not one_step_each:
            kinds = {is_async_callable(func) for func in funcs}
            if len(kinds) == 1:
                plan.append((async_runner if kinds.pop() else sync_runner, funcs))
                continue
        plan.extend((func, None) for func in (reversed(funcs) if in_reverse else funcs))
    return tuple(plan), keep
