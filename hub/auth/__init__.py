"""Authentication and authorization: passwords, sessions, API tokens, roles."""
