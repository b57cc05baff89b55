"""`python -m revbridge` and the `revbridge` console script."""

from revbridge.cli.app import main

if __name__ == "__main__":
    main()
