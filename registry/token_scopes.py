"""The scopes of personal access tokens, each with the access level (services/access.py LEVELS) it caps
its holder at. Standard library only: berth-registry's parser offers the scopes as --scope choices
without loading the services, the database and passlib behind them."""

TOKEN_SCOPE_LEVELS = {"read": "read", "read-write": "write", "read-write-delete": "admin"}
