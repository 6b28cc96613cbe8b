"""``Scaffold``, what app and blueprint share: it leaves registration to its
subclasses."""

from __future__ import annotations

import pytest

from helpers import RUNNING_ON_FLASK


def test_scaffold_leaves_registration_to_subclasses(tmp_path):
    if RUNNING_ON_FLASK:
        from flask.sansio.scaffold import Scaffold
    else:
        from kolben.scaffold import Scaffold

    scaffold = Scaffold("x", root_path=str(tmp_path))
    with pytest.raises(NotImplementedError):
        scaffold.before_request(lambda: None)
    with pytest.raises(NotImplementedError):
        scaffold.route("/")(lambda: None)
    assert scaffold.root_path == str(tmp_path)


def test_scaffold_subclass_must_implement_add_url_rule(tmp_path):
    if RUNNING_ON_FLASK:
        from flask.sansio.scaffold import Scaffold
    else:
        from kolben.scaffold import Scaffold

    class Partial(Scaffold):
        def _check_setup_finished(self, f_name):
            pass

    scaffold = Partial("x", root_path=str(tmp_path))
    with pytest.raises(NotImplementedError):
        scaffold.add_url_rule("/", "index", lambda: "")
    with pytest.raises(NotImplementedError):
        scaffold.get("/")(lambda: "")
    hook = scaffold.before_request(lambda: None)
    assert scaffold.before_request_funcs[None] == [hook]
