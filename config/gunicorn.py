"""gunicorn's settings for Candor in production.

    gunicorn -c config/gunicorn.py config.wsgi --workers 2 --bind 127.0.0.1:8000

Command-line options still apply on top of these. gunicorn reads this file in
its master process before it starts the workers, so what is changed here holds
in every worker.
"""

from gunicorn.http import wsgi

# No control socket: nothing on the machine should be able to reload or stop
# the server through a file (gunicorn 27 creates one by default).
control_socket_disable = True


# gunicorn answers every request with "Server: gunicorn" (and, in some
# versions, its version number), which tells a scanner what to try, and has no
# setting to turn it off. Django sets no Server header of its own, so the
# responses carry none. A proxy in front may still add its own.
_default_headers = wsgi.Response.default_headers


def _without_server_banner(self: wsgi.Response) -> list[str]:
    return [line for line in _default_headers(self) if not line.startswith("Server:")]


wsgi.Response.default_headers = _without_server_banner
