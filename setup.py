"""Build step that pyproject.toml can't express: ship kolben's start-up hook.

Everything else about the build is in ``pyproject.toml``. This adds
``src/kolben_flask_compat.pth`` at the top of the install (site-packages), for
a normal install (wheel) and for an editable one (``pip install -e .``). The
hook is one line that imports ``_kolben_flask_compat`` only when the process
starts with ``KOLBEN_FLASK_COMPAT`` set (see ``kolben.compat``).
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

HOOK = "kolben_flask_compat.pth"
HOOK_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", HOOK)


class build_py_with_hook(build_py):
    """build_py that also puts the start-up hook at the top of the install."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            # A wheel: everything in build_lib is installed in site-packages.
            self.copy_file(HOOK_SOURCE, os.path.join(self.build_lib, HOOK))
            return
        # An editable wheel: modules stay in the checkout and build_lib is thrown
        # away; files for site-packages go where the editable wheel is unpacked,
        # the 'install' command's install_lib (set by setuptools' editable_wheel).
        install_lib = self.distribution.get_command_obj("install").install_lib
        if install_lib:
            self.copy_file(HOOK_SOURCE, os.path.join(install_lib, HOOK))
        else:  # pragma: no cover - a setuptools that builds editable wheels otherwise
            self.warn(f"could not place {HOOK}: KOLBEN_FLASK_COMPAT will act on import only")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:  # type: ignore[override]
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            outputs.append(os.path.join(self.build_lib, HOOK))
        return outputs


setup(cmdclass={"build_py": build_py_with_hook})
