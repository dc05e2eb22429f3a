"""newsdedup: find copies among news articles and group the rest into events."""
