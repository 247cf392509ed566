"""What Slack does when a person acts in the sandbox's page: signed requests to the app, and showing its answers.

Each method is one thing a person can do in Slack's client. It builds the request Slack would send (the shapes in
``payloads``), signs it with the app's signing secret, POSTs it to the app's request URL and, like Slack, acts on the
HTTP answer: a slash command's acknowledgement is shown to the person, a form's ``response_action`` keeps it open
with errors or replaces it, and an app that does not answer within 3 seconds gets Slack's timeout error.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import payloads
from .blockkit import DEFAULT_MIN_QUERY_LENGTH, validate_options
from .slack_api import TEAM_ID, FakeSlack

ACK_TIMEOUT = 3.0  # seconds Slack waits for an app's answer
FILE_INPUT_LIMIT = 10 * 1024 * 1024  # Slack refuses bigger files in a form

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    purpose: str


PEOPLE = (
    Person("U0ALICE01", "alice", "Alice Example"),
    Person("U0BOB0002", "bob", "Bob Example"),
    Person("U0CAROL03", "carol", "Carol Example"),
)
CHANNELS = (
    Channel("C0PLAN001", "onboarding-acme", "Plan Acme's onboarding here: /onboarding step3"),
    Channel("C0ALERTS1", "cs-alerts", "Where alerts can go: /onboarding alerts here"),
)
# The app's message shortcuts, as manifest.yml declares them.
SHORTCUTS = (("add_to_plan", "Add to onboarding plan"),)


def seed(fake: FakeSlack) -> None:
    """The sandbox workspace: three people, a plan channel and an alerts channel, everyone in both."""
    members = [p.id for p in PEOPLE]
    for person in PEOPLE:
        fake.add_user(person.id, name=person.name, real_name=person.real_name)
    for channel in CHANNELS:
        fake.add_channel(channel.id, name=channel.name, members=members, purpose={"value": channel.purpose})


@dataclass
class Notice:
    """Something Slack would tell the person (an app that timed out or failed), shown as a banner."""

    text: str
    kind: str = "error"


@dataclass
class Workspace:
    fake: FakeSlack
    request_url: str
    signing_secret: str
    run_scheduler: Callable[[str], str] = field(default=lambda at: "no scheduler attached")
    view_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what a person does ---------------------------------------------------------------------

    def command(self, user: str, channel: str, text: str) -> None:
        """``/onboarding <text>`` typed in ``channel``."""
        command, _, rest = text.strip().partition(" ")
        if command != "/onboarding":
            self._notice(f"{command} is not a valid command. This workspace's app has /onboarding.")
            return
        fields = payloads.slash_command(
            rest.strip(),
            response_url=self.fake.issue_response_url(channel, user),
            team=TEAM_ID,
            channel=channel,
            channel_name=self._channel_name(channel),
            user=user,
            user_name=self._user_name(user),
        )
        fields["trigger_id"] = self.fake.issue_trigger_id(user=user)
        answer = self._send(payloads.form_body(fields), "application/x-www-form-urlencoded", "/onboarding")
        if answer is None:
            return
        if answer.startswith(b"{"):
            message = json.loads(answer)
            if message.get("response_type") == "in_channel":
                self.fake.post_as_app(channel, message)
            else:
                self.fake.show_ephemeral(channel, user, message)
        elif answer.strip():
            self.fake.show_ephemeral(channel, user, {"text": answer.decode()})

    def say(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> None:
        """A message (or a thread reply) typed in the composer; the app hears it through the Events API."""
        message = self.fake.post_as_user(channel, user, text, thread_ts=thread_ts)
        event: JsonDict = {**message, "channel": channel, "channel_type": "channel", "event_ts": message["ts"]}
        self._event(event)

    def open_home(self, user: str) -> None:
        self._event({"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home"})

    def click(self, user: str, channel: str, ts: str, action_id: str, *, value: str | None = None,
              selected: str | None = None) -> None:  # fmt: skip
        """A button pressed (or an option picked) in a message, or in an ephemeral message, of ``channel``."""
        ephemeral = next((e for e in self.fake.ephemerals_for(channel, user) if e["message_ts"] == ts), None)
        message = {**ephemeral, "ts": ts} if ephemeral is not None else self.fake.message(channel, ts)
        payload = payloads.message_action(
            message, action_id, value=value, selected=selected,
            response_url=self.fake.issue_response_url(channel, user, message_ts=ts), channel=channel,
            channel_name=self._channel_name(channel), user=user, team=TEAM_ID, ephemeral=ephemeral is not None,
        )  # fmt: skip
        if ephemeral is not None:
            del payload["message"]  # Slack sends no message for a click in an ephemeral one
        payload["trigger_id"] = self.fake.issue_trigger_id(user=user)
        self._interact(payload)

    def click_in_view(self, user: str, view_id: str, action_id: str, values: JsonDict, *,
                      value: str | None = None, selected: str | None = None) -> None:  # fmt: skip
        """A button in an open modal or in the App Home."""
        view = self.fake.views[view_id]
        inputs = _known_inputs(view, values)
        payload = payloads.view_action(view, action_id, inputs, user=user, team=TEAM_ID, value=value, selected=selected)
        payload["trigger_id"] = self.fake.issue_trigger_id(view_id if view["type"] == "modal" else None, user=user)
        self._interact(payload)

    def submit(self, user: str, view_id: str, values: JsonDict) -> None:
        """The modal's submit button, with what the person entered (block_id -> value)."""
        view = self.fake.views[view_id]
        payload = payloads.view_submission(view, _known_inputs(view, values), user=user, team=TEAM_ID)
        answer = self._interact(payload)
        if answer is None:
            return
        body = json.loads(answer) if answer.startswith(b"{") else None
        errors = self.fake.answer_submission(view_id, body)
        with self._lock:
            if errors:
                self.view_errors[view_id] = errors
            else:
                self.view_errors.pop(view_id, None)

    def upload(self, user: str, name: str, content: bytes) -> JsonDict:
        """A file picked in a form's file input: Slack stores it (shared nowhere) and the form carries its object."""
        if len(content) > FILE_INPUT_LIMIT:
            raise ValueError(f"{name} is over Slack's {FILE_INPUT_LIMIT // 1_048_576} MB limit for a file input")
        return self.fake.user_file(user, name, content)

    def suggest(self, user: str, view_id: str, block_id: str, query: str, values: JsonDict) -> list[JsonDict]:
        """Typing ``query`` in an external select of an open modal: Slack asks the app (``block_suggestion``) and shows
        the options it answers; nothing until ``min_query_length`` characters are typed, and nothing when the app's
        answer is one Slack would refuse."""
        view = self.fake.views[view_id]
        element = next(b["element"] for b in view["blocks"] if b.get("block_id") == block_id)
        if len(query) < element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH):
            return []
        payload = payloads.block_suggestion(view, block_id, query, _known_inputs(view, values), user=user, team=TEAM_ID)
        answer = self._interact(payload)
        if answer is None:
            return []
        try:
            body = json.loads(answer)
        except ValueError:
            body = answer.decode(errors="replace")
        problems = validate_options(body)
        if problems:
            self._notice(f"block_suggestion: Slack shows no options, the app's answer is invalid: {problems[0]}")
            return []
        groups = body.get("option_groups") or []
        return list(body.get("options") or [option for group in groups for option in group["options"]])

    def close(self, user: str, view_id: str) -> None:
        """The modal's close (or cancel) button: Slack tells the app only when the view asked for it."""
        view = self.fake.views[view_id]
        self.fake.close_view(view_id)
        with self._lock:
            self.view_errors.pop(view_id, None)
        if view.get("notify_on_close"):
            self._interact(payloads.view_closed(view, user=user, team=TEAM_ID))

    def shortcut(self, user: str, channel: str, ts: str, callback_id: str) -> None:
        """A message shortcut chosen from a message's menu."""
        payload = payloads.message_shortcut(
            self.fake.message(channel, ts), response_url=self.fake.issue_response_url(channel, user),
            channel=channel, channel_name=self._channel_name(channel), user=user, team=TEAM_ID,
            callback_id=callback_id,
        )  # fmt: skip
        payload["trigger_id"] = self.fake.issue_trigger_id(user=user)
        self._interact(payload)

    def scheduler(self, at: str) -> None:
        """Run the scheduler as of ``at`` (what ``onboarding-bot tick --now`` runs)."""
        self._notice(self.run_scheduler(at), kind="info")

    def dismiss(self) -> None:
        with self._lock:
            self.notices.clear()
        self.fake.take_problems()

    # -- talking to the app ---------------------------------------------------------------------

    def _event(self, event: JsonDict) -> None:
        self._send(json.dumps(payloads.event_callback(event, team=TEAM_ID)), "application/json", event["type"])

    def _interact(self, payload: JsonDict) -> bytes | None:
        return self._send(payloads.interactive_body(payload), "application/x-www-form-urlencoded", payload["type"])

    def _send(self, body: str, content_type: str, what: str) -> bytes | None:
        """POST a signed request; the app's answer, or None (and a notice) when Slack would show an error."""
        headers = {"Content-Type": content_type, **payloads.sign(body, secret=self.signing_secret)}
        request = urllib.request.Request(self.request_url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=ACK_TIMEOUT) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            self._notice(f"{what} failed: the app answered HTTP {exc.code} (Slack shows the person an error).")
        except TimeoutError:
            self._notice(f'{what} failed with the error "operation_timeout": no answer within 3 seconds.')
        except OSError as exc:
            self._notice(f"{what} failed: the app is not reachable at {self.request_url} ({exc}).")
        return None

    def _notice(self, text: str, kind: str = "error") -> None:
        with self._lock:
            self.notices.append(Notice(text, kind))
            del self.notices[:-5]

    def _channel_name(self, channel: str) -> str:
        return str(self.fake.channels.get(channel, {}).get("name", channel))

    def _user_name(self, user: str) -> str:
        return str(self.fake.users.get(user, {}).get("name", user))


def _known_inputs(view: JsonDict, values: JsonDict) -> JsonDict:
    """The entries of ``values`` that are input blocks of ``view`` (the page may send a stale one after an update)."""
    inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    return {k: v for k, v in values.items() if k in inputs}
