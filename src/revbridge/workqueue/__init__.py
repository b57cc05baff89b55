"""The work queue: every problem as a work item, opened, grouped, assigned, resolved, retried and
replayed after a fix (DESIGN.md sections 1 and 6). The web page, the CLI and the API are faces
over it; the store below keeps the rows and decides nothing. It sits below the pipeline and
imports none of it: what it needs from above (a replay) is handed in.
"""

from revbridge.store.queue import ReplayChoice
from revbridge.store.workitems import IGNORED, OPEN, RESOLVED, STATUSES, WorkItem, get
from revbridge.workqueue.grouping import Choices, Group, choices, groups
from revbridge.workqueue.listing import Selection, find
from revbridge.workqueue.opening import DEFAULT_SERVICE_LEVELS, ServiceLevels, open_items
from revbridge.workqueue.replay import Replayer, ReplayReport, messages_to_replay, replay_code, replay_items
from revbridge.workqueue.resolution import assign, ignore, resolve
from revbridge.workqueue.retry import Retried, retry

__all__ = [
    "DEFAULT_SERVICE_LEVELS",
    "IGNORED",
    "OPEN",
    "RESOLVED",
    "STATUSES",
    "Choices",
    "Group",
    "ReplayChoice",
    "ReplayReport",
    "Replayer",
    "Retried",
    "Selection",
    "ServiceLevels",
    "WorkItem",
    "assign",
    "choices",
    "find",
    "get",
    "groups",
    "ignore",
    "messages_to_replay",
    "open_items",
    "replay_code",
    "replay_items",
    "resolve",
    "retry",
]
