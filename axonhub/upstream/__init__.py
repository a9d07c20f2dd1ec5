"""Talking to upstream providers: the HTTP client, channel choice, failover and cooldown."""
