"""Notifications: a failed run, an integration in error, credits nearly used up; in the app and by email."""
