"""Everything Slack: the Bolt app, listeners, Block Kit views, HTTP server and CLI."""
