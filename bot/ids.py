"""Every action_id, callback_id and fixed block_id the app uses, in one place."""

from __future__ import annotations

COMMAND = "/onboarding"

# Hub message
OPEN_SECTION = "open_section"
MENU_CONTINUE = "menu_continue"  # [C]: on to the next step, once Step 3 is saved
REVIEW_SAVE = "review_save"  # the synthesis to confirm: how the answers become the saved document
MENU_REVISE = "menu_revise"
MENU_HELP = "menu_help"

# Synthesis message
CONFIRM_SAVE = "confirm_save"
VIEW_SYNTHESIS = "view_synthesis"  # the whole synthesis in a modal; the channel post is a summary

# The hub's milestone rows: milestones are edited one at a time
EDIT_MILESTONE = "edit_milestone"  # + ":<index>"; value: the index
ADD_MILESTONE = "add_milestone"
REMOVE_MILESTONE = "remove_milestone"  # a menu; option value: "<index>:<section version shown>"

# Inside the health modal
ADD_FACTOR = "add_factor"  # a custom health factor row, added only when someone wants one
REMOVE_FACTOR = "remove_factor"

# Modal callback ids, one per Step 3 section
SECTION_CALLBACK = "section_submit"

# Every input element uses this action_id: the block_id alone names the answer field.
VALUE = "value"

# Missed-milestone alerts (button value = alert id)
ALERT_DONE = "alert_done"
ALERT_EXTEND = "alert_extend"
ALERT_ACK = "alert_ack"
EXTEND_CALLBACK = "extend_deadline"
DONE_CALLBACK = "mark_done"  # the Mark done form: on which date the milestone was reached
ALERT_BLOCK_PREFIX = "alert:"  # + alert id: the actions block of one alert, rewritten whenever it is acted on
ALERT_TEXT_PREFIX = "alert-text:"  # + alert id: its text (customer, milestone, due date, status), rewritten too

# `/onboarding import`: a CSV file of customers or signals, uploaded in a form
IMPORT_CALLBACK = "import_file"
IMPORT_KIND = "import_kind"  # block id: customers or signals
IMPORT_FILE = "import_file"  # block id: the file input

# Message shortcut "Add to onboarding plan"
ADD_TO_PLAN = "add_to_plan"
ADD_TO_PLAN_SUBMIT = "add_to_plan_submit"
