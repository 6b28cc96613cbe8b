"""The root of the Jotter project, as if it were checked out on its own: pytest
puts this folder on ``sys.path`` (rootdir conftest), so the tests in ``tests/``
``import jotter`` as they would after ``pip install -e .``.

Jotter and its tests are plain Flask code. kolben's suite runs them only in the
interpreters that ``tests/compat/test_extensions.py`` starts, with
``KOLBEN_FLASK_COMPAT=1`` (and once on the real Flask); by hand::

    KOLBEN_FLASK_COMPAT=1 .venv/bin/python -m pytest tests/compat/realapp
    KOLBEN_COMPAT_REFERENCE=1 .venv/bin/python -m pytest tests/compat/realapp
"""
