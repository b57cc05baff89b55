"""`python -m revbridge` and the `revbridge` console script: the whole command line.

The CLI face's commands (``revbridge.cli``) plus those that sit above every face: ``serve`` and
``worker`` (``revbridge.service``) and ``demo`` (``revbridge.demo``). Nothing below imports this module.
"""

from revbridge.cli.app import app
from revbridge.cli.app import main as run
from revbridge.demo.command import demo
from revbridge.service.command import serve, worker

app.command()(serve)
app.command()(worker)
app.command()(demo)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
