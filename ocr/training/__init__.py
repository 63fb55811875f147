"""Training the digits model (offline; never run by the bot or the tests)."""
