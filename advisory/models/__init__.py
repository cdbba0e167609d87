"""Candor's domain models, one module per sub-domain, all importable from here.

    records        clients, engagements, disagreements, amendments, comments, evidence files
    health         health snapshots, the board's rollups, band overrides
    letgo          let-go cases
    log            the log's Merkle-tree entries and signed tree heads
    chain          the hash chain the log replaced, kept as it was
    notifications  notifications and delivery preferences

Import from `advisory.models` (zulip's zerver/models pattern): the split is
for readers, not a second set of names. `advisory.models.evidence_path` must
stay importable: migration 0001 names it.
"""

from advisory.models.chain import ChainLink as ChainLink
from advisory.models.health import BandOverride as BandOverride
from advisory.models.health import BandOverrideQuerySet as BandOverrideQuerySet
from advisory.models.health import ClientMonth as ClientMonth
from advisory.models.health import ClientStats as ClientStats
from advisory.models.health import HealthSnapshot as HealthSnapshot
from advisory.models.letgo import LetGoCase as LetGoCase
from advisory.models.letgo import LetGoCaseQuerySet as LetGoCaseQuerySet
from advisory.models.log import LogEntry as LogEntry
from advisory.models.log import TreeHead as TreeHead
from advisory.models.notifications import CLIENT_REMINDERS as CLIENT_REMINDERS
from advisory.models.notifications import Delivery as Delivery
from advisory.models.notifications import Notification as Notification
from advisory.models.notifications import NotificationKind as NotificationKind
from advisory.models.notifications import NotificationPreference as NotificationPreference
from advisory.models.notifications import NotificationQuerySet as NotificationQuerySet
from advisory.models.records import DISAGREEMENT_OPEN as DISAGREEMENT_OPEN
from advisory.models.records import ENGAGEMENT_HISTORY as ENGAGEMENT_HISTORY
from advisory.models.records import FOLLOW_UP_DAYS as FOLLOW_UP_DAYS
from advisory.models.records import HISTORY_EXCLUDED as HISTORY_EXCLUDED
from advisory.models.records import LONG_TEXT as LONG_TEXT
from advisory.models.records import NAME_TAKEN as NAME_TAKEN
from advisory.models.records import SHORT_TEXT as SHORT_TEXT
from advisory.models.records import Amendment as Amendment
from advisory.models.records import Band as Band
from advisory.models.records import Client as Client
from advisory.models.records import ClientQuerySet as ClientQuerySet
from advisory.models.records import Comment as Comment
from advisory.models.records import Disagreement as Disagreement
from advisory.models.records import DisagreementQuerySet as DisagreementQuerySet
from advisory.models.records import Engagement as Engagement
from advisory.models.records import EngagementQuerySet as EngagementQuerySet
from advisory.models.records import EvidenceCheck as EvidenceCheck
from advisory.models.records import EvidenceFile as EvidenceFile
from advisory.models.records import evidence_path as evidence_path
from advisory.models.records import long_text as long_text
from advisory.models.views import SavedView as SavedView
