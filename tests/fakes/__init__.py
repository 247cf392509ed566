"""In-process fakes of Slack's Web API and Socket Mode server for the test suite."""
