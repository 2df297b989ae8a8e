"""Pure libraries under every app (no ORM, no Django models): the season's calendar rules."""
