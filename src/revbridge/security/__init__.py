"""Security: the keyring for payload encryption, authentication and roles, the audit chain and
patient tokenisation keys. Stores and APIs call in here; nothing here calls them."""
