"""FastAPI routers (thin): authentication, authorization and size limits happen in middleware
before any body is read; handlers call services and shape responses."""
