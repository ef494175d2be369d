"""Small widgets shared by the cardlab screens."""
