from __future__ import annotations

from django.urls import path

from advisory.views import (
    clients,
    disagreements,
    dossier,
    engagements,
    evidence,
    health,
    home,
    imports,
    letgo,
    letters,
    log,
    notifications,
    saved_views,
)
from advisory.views.search import search_results

urlpatterns = [
    path("", home.dashboard, name="dashboard"),
    path("search/", search_results, name="search"),
    # Clients
    path("clients/", clients.client_list, name="client-list"),
    path("clients/new/", clients.client_create, name="client-create"),
    path("clients/<int:pk>/", clients.client_detail, name="client-detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client-edit"),
    path("clients/<int:pk>/history/", clients.client_history, name="client-history"),
    path("clients/<int:pk>/archive/", clients.client_archive, name="client-archive"),
    path("clients/<int:pk>/dossier/", dossier.client_dossier, name="client-dossier"),
    path("clients/<int:pk>/dossier.pdf", dossier.client_dossier_pdf, name="client-dossier-pdf"),
    path(
        "clients/<int:pk>/evidence-pack/",
        dossier.client_evidence_pack,
        name="client-evidence-pack",
    ),
    path("clients/<int:pk>/override/", health.band_override, name="band-override"),
    path("clients/<int:pk>/override/end/", health.band_override_clear, name="band-override-end"),
    # Engagements
    path("engagements/", engagements.engagement_list, name="engagement-list"),
    path("engagements/new/", engagements.engagement_create, name="engagement-create"),
    path("engagements/<int:pk>/", engagements.engagement_detail, name="engagement-detail"),
    path("engagements/<int:pk>/edit/", engagements.engagement_edit, name="engagement-edit"),
    path(
        "engagements/<int:pk>/history/", engagements.engagement_history, name="engagement-history"
    ),
    path(
        "engagements/<int:pk>/archive/", engagements.engagement_archive, name="engagement-archive"
    ),
    # Disagreements
    path("disagreements/", disagreements.disagreement_list, name="disagreement-list"),
    path("disagreements/new/", disagreements.disagreement_create, name="disagreement-create"),
    path("disagreements/new/engagements/", disagreements.engagement_pick, name="engagement-pick"),
    path("disagreements/<int:pk>/", disagreements.disagreement_detail, name="disagreement-detail"),
    path("disagreements/<int:pk>/edit/", disagreements.disagreement_edit, name="disagreement-edit"),
    path(
        "disagreements/<int:pk>/history/",
        disagreements.disagreement_history,
        name="disagreement-history",
    ),
    path(
        "disagreements/<int:pk>/archive/",
        disagreements.disagreement_archive,
        name="disagreement-archive",
    ),
    path(
        "disagreements/<int:pk>/decision/",
        disagreements.disagreement_decision,
        name="disagreement-decision",
    ),
    path(
        "disagreements/<int:pk>/outcome/",
        disagreements.disagreement_outcome,
        name="disagreement-outcome",
    ),
    path(
        "disagreements/<int:pk>/review/",
        disagreements.disagreement_review,
        name="disagreement-review",
    ),
    path(
        "disagreements/<int:pk>/amend/", disagreements.disagreement_amend, name="disagreement-amend"
    ),
    path("disagreements/<int:pk>/comments/", disagreements.comment_create, name="comment-create"),
    path("disagreements/<int:pk>/evidence/", evidence.evidence_upload, name="evidence-upload"),
    path("evidence/<int:pk>/", evidence.evidence_download, name="evidence-download"),
    path("health/", health.health_board, name="health-board"),
    path("health/advisors/", health.advisor_breakdown, name="advisor-breakdown"),
    path("health/score/", health.health_score_explained, name="health-score"),
    # CSV import (managers and admins)
    path("imports/", imports.import_upload, name="import-upload"),
    path("imports/preview/", imports.import_preview, name="import-preview"),
    path("imports/confirm/", imports.import_confirm, name="import-confirm"),
    path("imports/jobs/<str:job_id>/", imports.import_job, name="import-job"),
    path("imports/template/<slug:kind>.csv", imports.import_template, name="import-template"),
    # Tamper evidence (admins)
    path("admin-tools/verify-log/", log.verify_log, name="verify-log"),
    path("admin-tools/verify-log/sign/", log.tree_head_sign, name="tree-head-sign"),
    # Letting a client go
    path("let-go/", letgo.letgo_list, name="letgo-list"),
    path("let-go/<int:pk>/", letgo.letgo_detail, name="letgo-detail"),
    path("let-go/<int:pk>/decide/", letgo.letgo_decide, name="letgo-decide"),
    path("let-go/<int:pk>/withdraw/", letgo.letgo_withdraw, name="letgo-withdraw"),
    path("let-go/<int:pk>/offboarding/", letgo.letgo_offboarding, name="letgo-offboarding"),
    path("let-go/<int:pk>/complete/", letgo.letgo_complete, name="letgo-complete"),
    path("let-go/<int:pk>/letter/", letgo.letgo_letter, name="letgo-letter"),
    path("let-go/<int:pk>/letter.pdf", letters.letgo_letter_pdf, name="letgo-letter-pdf"),
    path("let-go/<int:pk>/letter/send/", letters.letgo_letter_send, name="letgo-letter-send"),
    path("let-go/<int:pk>/letter/posted/", letters.letgo_letter_posted, name="letgo-letter-posted"),
    path("let-go/<int:pk>/letter/choice/", letgo.letgo_letter_choice, name="letgo-letter-choice"),
    path("let-go/<int:pk>/history/", letgo.letgo_history, name="letgo-history"),
    path("clients/<int:pk>/let-go/", letgo.letgo_propose, name="letgo-propose"),
    path("clients/<int:pk>/reinstate/", letgo.client_reinstate, name="client-reinstate"),
    # Notifications
    path("notifications/", notifications.notification_list, name="notification-list"),
    path(
        "notifications/<int:pk>/read/",
        notifications.notification_mark_read,
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        notifications.notification_mark_all_read,
        name="notification-read-all",
    ),
    path(
        "notifications/preferences/",
        notifications.notification_preferences,
        name="notification-preferences",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        notifications.notification_unsubscribe,
        name="notification-unsubscribe",
    ),
    # Saved views: each person's own filtered lists
    path("saved-views/", saved_views.saved_view_list, name="saved-view-list"),
    path("saved-views/new/", saved_views.saved_view_create, name="saved-view-create"),
    path("saved-views/<int:pk>/rename/", saved_views.saved_view_rename, name="saved-view-rename"),
    path("saved-views/<int:pk>/delete/", saved_views.saved_view_delete, name="saved-view-delete"),
]
