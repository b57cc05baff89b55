"""What the two HTTP faces (``api`` and ``web``) share, below both: who is asking (API keys, bearer
tokens and workbench sessions checked in middleware, ``auth.py``; whom a credential belongs to,
``credentials.py``), which permission each route needs (``permissions.py``), rate limits per
principal (``ratelimit.py``), how a handler reaches the runtime and the principal (``state.py``),
and the one audited way raw message content is served (``disclosure.py``). The faces never import
each other; the application that serves both is put together above them, in ``revbridge.service``.
"""
