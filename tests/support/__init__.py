"""Test support: signed Slack requests and a harness that serves the real app over HTTP."""
