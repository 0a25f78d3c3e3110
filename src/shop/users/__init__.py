"""The users service: accounts, argon2 passwords, and the short-lived EdDSA tokens the gateway verifies."""
