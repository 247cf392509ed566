"""A local Slack: the Web API, request payloads and a browser page, for trying the bot and for its tests.

``slack_api.FakeSlack`` answers the Web API the way Slack does and checks every call (Block Kit, limits, trigger
expiry); ``payloads`` builds and signs requests shaped like Slack's; ``web`` serves the page a person uses; ``run``
starts the real bot against all of it (``onboarding-bot sandbox``). Nothing in ``bot/``, ``steps/`` or ``storage/``
imports this package.
"""
