"""Serve the demo application with werkzeug's development server.

Run it with ``bash scripts/demo``, or ``python examples/hello/serve.py`` in an
environment where kolben is installed. HOST and PORT override the address
(default http://127.0.0.1:5000). This stands in until the ``kolben run`` command
arrives with the CLI.
"""

from __future__ import annotations

import os

from app import app

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app.run(host=host, port=port, debug=False)
