"""The runner above the faces: one process serving HTTP (the API and the workbench together),
MLLP and the drop folder, and running the workers, the posting loop and the ERP outbox
(``runner.py``); the ASGI application that puts the two HTTP faces behind one authentication
and rate limit (``app.py``); and the ``revbridge serve`` command (``command.py``).
"""

from revbridge.service.app import create_app
from revbridge.service.runner import Service

__all__ = ["Service", "create_app"]
