"""Pure parsers, one subpackage per standard. Each turns stored bytes into canonical events
plus located problems, and never touches the outside world. See base.py for the contract."""
