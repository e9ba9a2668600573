"""Integrations: connected services, their encrypted credentials, connection tests and Gmail OAuth."""
