"""Typer commands: thin wrappers that build the runtime, call one service and print the result."""
