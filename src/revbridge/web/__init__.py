"""The operations workbench: server-rendered pages over the same runtime, roles and audit as the API."""
