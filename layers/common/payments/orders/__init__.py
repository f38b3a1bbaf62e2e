"""Orders: creating them (priced on the server), reading one with everything under it, listing a user's."""
