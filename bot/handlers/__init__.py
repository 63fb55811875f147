"""bot/handlers package."""
