"""Delivering a request's evidence package: Google Drive or local links, and the 14-day purge."""
