"""Documents the bot sends: bill PDFs, consumption charts and schedule pictures, rendered off
the event loop and kept in the bills directory."""
