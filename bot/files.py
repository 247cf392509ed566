"""A file someone uploaded in a form (Block Kit's file input), fetched from Slack after the form is acknowledged.

Only the file's id is taken from the submission: its details and its download address come from ``files.info``, so
a forged submission can neither point the bot (and its token) at another address nor pass off someone else's file.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from steps.errors import UserError

SLACK_FILE_LIMIT = 10 * 1024 * 1024  # what Slack accepts in a file input
DOWNLOAD_TIMEOUT = 30  # seconds


def fetch_upload(
    client: WebClient, file_id: str, *, user_id: str, max_bytes: int = SLACK_FILE_LIMIT
) -> tuple[str, bytes]:
    """The name and bytes of a file ``user_id`` uploaded, or ``UserError`` saying why not."""
    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        raise UserError(
            f"Slack could not find the uploaded file ({exc.response.get('error')}); nothing was imported."
        ) from None
    if not isinstance(info, dict) or info.get("user") != user_id:
        raise UserError("Only a file you uploaded in this form can be imported; nothing was imported.")
    name = str(info.get("name") or "upload.csv")
    if int(info.get("size") or 0) > max_bytes:
        raise UserError(f"“{{name}}” is over {max_bytes // 1_048_576} MB; nothing was imported.", name=name)
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    where = urlsplit(url)
    slack = where.scheme == "https" and where.hostname == "files.slack.com"
    if not (slack or where.hostname == urlsplit(client.base_url).hostname):  # the Web API's own host (tests, proxies)
        raise UserError("Slack gave no usable download address for the file; nothing was imported.")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.headers.get_content_type() == "text/html":
                # Slack answers a download it will not allow with its sign-in page, not an error status.
                raise UserError("Slack did not hand over the file (is the app's files:read scope granted?).")
            content = response.read(max_bytes + 1)
    except (urllib.error.URLError, TimeoutError) as exc:
        raise UserError(f"The file could not be downloaded from Slack ({exc}); nothing was imported.") from None
    if len(content) > max_bytes:
        raise UserError(f"“{{name}}” is over {max_bytes // 1_048_576} MB; nothing was imported.", name=name)
    return name, content
