"""Tests of the daemon, notifications, the HTTP endpoint, doctor and the systemd units."""
