"""The API's viewsets: the same records, scope and rules as the pages.

- Querysets always start from `Model.objects.visible_to(request.user)`, so an
  outsider's id answers 404, as on the pages.
- `action_permissions` names the permissions the matching page requires
  (advisory/api/permissions.py): a role too low answers 403.
- Writes go through advisory.records.services with `by=request.user`; a PATCH or an
  action carries the `version` it is based on, and a stale one answers 409
  with the record as it is now. A rule a service refuses answers 400.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from accounts.permissions import can_comment
from advisory.api.errors import as_api_error
from advisory.api.filters import LetGoCaseFilter, ScopedFilterBackend
from advisory.api.permissions import RolePermission
from advisory.api.schema import LIST_404, RECORD_LIST_404, conflict, errors
from advisory.api.serializers import (
    ClientSerializer,
    ClientUpdateSerializer,
    CommentSerializer,
    DecisionSerializer,
    DisagreementSerializer,
    DisagreementUpdateSerializer,
    EngagementSerializer,
    EngagementUpdateSerializer,
    HealthSerializer,
    LetGoCaseSerializer,
    OutcomeSerializer,
)
from advisory.filters import ClientFilter, DisagreementFilter, EngagementFilter
from advisory.health import score as scoring
from advisory.health import selectors as health_selectors
from advisory.models import Client, Disagreement, Engagement, LetGoCase
from advisory.records import comments, services
from advisory.records.versioning import EditConflict, let_go_read_only

TOP_CONTRIBUTORS = 10


class ScopedViewSet(viewsets.GenericViewSet):
    """List, retrieve and the versioned-write plumbing shared by the record endpoints."""

    permission_classes = [RolePermission]
    filter_backends = [ScopedFilterBackend]
    lookup_value_converter = "int"
    action_permissions: dict[str, list[str]] = {}

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # The list filters (archived records hidden unless asked for) belong to
        # lists; a record is reachable by its id whatever its state.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def validated(self, serializer_class: type[Serializer], instance=None) -> dict:
        serializer = serializer_class(
            instance, data=self.request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def represent(self, obj: models.Model) -> dict:
        return self.serializer_class(obj, context=self.get_serializer_context()).data

    def write(self, save: Callable[[], models.Model], *, created: bool = False) -> Response:
        """Run a service call and answer with the record, a conflict or the errors."""
        try:
            obj = save()
        except EditConflict as exc:
            current = exc.current
            detail = (
                f"This {current._meta.verbose_name} was changed by someone else and is now "
                f"at version {current.version}; nothing was saved."
            )
            return Response(
                {"detail": detail, "current": self.represent(current)},
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as exc:
            raise as_api_error(exc) from None
        return Response(
            self.represent(obj), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _changes(data: dict) -> tuple[dict, int, str]:
    """Split a validated PATCH into the field changes, the version and the reason."""
    version = data.pop("version")
    reason = data.pop("change_reason", "")
    return data, version, reason


# --- Clients -----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List clients",
        description="The clients you can see, by name. Archived clients only with "
        "`archived=all` or `archived=only`.",
        responses={200: ClientSerializer, **errors(400, 401, 403), 404: LIST_404},
    ),
    retrieve=extend_schema(
        summary="Get a client", responses={200: ClientSerializer, **errors(401, 403, 404)}
    ),
    create=extend_schema(
        summary="Create a client",
        description="Without `team`, the client joins its lead advisor's team.",
        request=ClientSerializer,
        responses={201: ClientSerializer, **errors(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a client",
        description="Send `version` (from your last read) and the fields to change.",
        request=ClientUpdateSerializer,
        responses={
            200: ClientSerializer,
            **errors(400, 401, 403, 404),
            **conflict(ClientSerializer, "Client"),
        },
    ),
)
class ClientViewSet(ScopedViewSet):
    """Clients you lead or work on; a manager also sees every client of the
    teams they manage, an admin all. Others answer 404."""

    serializer_class = ClientSerializer
    filterset_class = ClientFilter
    action_permissions = {
        "list": ["advisory.view_client"],
        "retrieve": ["advisory.view_client"],
        "health": ["advisory.view_client"],
        "create": ["advisory.add_client"],
        "partial_update": ["advisory.change_client"],
    }

    def get_queryset(self) -> QuerySet:
        return Client.objects.visible_to(self.request.user)

    def create(self, request: Request) -> Response:
        client = Client(**{"lead_advisor": request.user, **self.validated(ClientSerializer)})
        return self.write(lambda: services.client_save(client, by=request.user), created=True)

    def partial_update(self, request: Request, pk: int) -> Response:
        client = self.get_object()
        changes, version, reason = _changes(self.validated(ClientUpdateSerializer, client))
        for field, value in changes.items():
            setattr(client, field, value)
        return self.write(
            lambda: services.client_save(
                client, by=request.user, reason=reason, expected_version=version
            )
        )

    @extend_schema(
        summary="A client's relationship health",
        description="Today's score and band, the trend over 90 days, the largest "
        "contributions behind the score and a manager's band override in force.",
        responses={200: HealthSerializer, **errors(401, 403, 404)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def health(self, request: Request, pk: int) -> Response:
        client = self.get_object()
        now, then = health_selectors.client_health(client)
        data = {
            "client": client.pk,
            "as_of": now.as_of,
            "score": now.score,
            "band": now.band,
            "computed_band": now.computed_band,
            "cap_reason": now.cap_reason,
            "trend": scoring.trend(now, then),
            "total_friction": now.total_friction,
            "contributor_count": len(now.contributions),
            "contributors": now.contributions[:TOP_CONTRIBUTORS],
            "override": client.band_overrides.in_force().first(),
        }
        return Response(HealthSerializer(data).data)


# --- Engagements -------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List engagements",
        responses={200: EngagementSerializer, **errors(400, 401, 403), 404: LIST_404},
    ),
    retrieve=extend_schema(
        summary="Get an engagement",
        responses={200: EngagementSerializer, **errors(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Create an engagement",
        request=EngagementSerializer,
        responses={201: EngagementSerializer, **errors(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change an engagement",
        description="Send `version` (from your last read) and the fields to change; "
        "`members`, when sent, replaces the list.",
        request=EngagementUpdateSerializer,
        responses={
            200: EngagementSerializer,
            **errors(400, 401, 403, 404),
            **conflict(EngagementSerializer, "Engagement"),
        },
    ),
)
class EngagementViewSet(ScopedViewSet):
    """Engagements of the clients you can see; others answer 404."""

    serializer_class = EngagementSerializer
    filterset_class = EngagementFilter
    action_permissions = {
        "list": ["advisory.view_engagement"],
        "retrieve": ["advisory.view_engagement"],
        "create": ["advisory.add_engagement"],
        "partial_update": ["advisory.change_engagement"],
    }

    def get_queryset(self) -> QuerySet:
        return Engagement.objects.visible_to(self.request.user).prefetch_related("members")

    def create(self, request: Request) -> Response:
        data = self.validated(EngagementSerializer)
        members = data.pop("members", [])
        engagement = Engagement(**{"lead_advisor": request.user, **data})
        return self.write(
            lambda: services.engagement_save(engagement, by=request.user, members=members),
            created=True,
        )

    def partial_update(self, request: Request, pk: int) -> Response:
        engagement = self.get_object()
        changes, version, reason = _changes(self.validated(EngagementUpdateSerializer, engagement))
        members = changes.pop("members", None)
        for field, value in changes.items():
            setattr(engagement, field, value)
        return self.write(
            lambda: services.engagement_save(
                engagement,
                by=request.user,
                members=members,
                reason=reason,
                expected_version=version,
            )
        )


# --- Disagreements -----------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List disagreements",
        description="The log, newest first, over the clients you can see.",
        responses={200: DisagreementSerializer, **errors(400, 401, 403), 404: LIST_404},
    ),
    retrieve=extend_schema(
        summary="Get a disagreement",
        responses={200: DisagreementSerializer, **errors(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Log a disagreement",
        description="Logged by you. The decision and the outcome are recorded later "
        "through their own endpoints.",
        request=DisagreementSerializer,
        responses={201: DisagreementSerializer, **errors(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a disagreement",
        description="Send `version` (from your last read) and the facts to change. "
        "Once a manager has reviewed it, the request, recommendation, date, severity "
        "and tone are locked (400). A let-go client's disagreements are read-only (400).",
        request=DisagreementUpdateSerializer,
        responses={
            200: DisagreementSerializer,
            **errors(400, 401, 403, 404),
            **conflict(DisagreementSerializer, "Disagreement"),
        },
    ),
)
class DisagreementViewSet(ScopedViewSet):
    """The disagreement log over the clients you can see; others answer 404."""

    serializer_class = DisagreementSerializer
    filterset_class = DisagreementFilter
    action_permissions = {
        "list": ["advisory.view_disagreement"],
        "retrieve": ["advisory.view_disagreement"],
        "create": ["advisory.add_disagreement"],
        "partial_update": ["advisory.change_disagreement"],
        "decision": ["advisory.change_disagreement"],
        "outcome": ["advisory.change_disagreement"],
        "comments": ["advisory.view_disagreement", "advisory.view_comment"],
        "comments POST": ["advisory.view_disagreement", "advisory.add_comment"],
    }

    def get_queryset(self) -> QuerySet:
        # The client with the row: is_open reads its status.
        return (
            Disagreement.objects.visible_to(self.request.user).select_related("client").with_ranks()
        )

    def create(self, request: Request) -> Response:
        disagreement = Disagreement(**self.validated(DisagreementSerializer))
        return self.write(
            lambda: services.disagreement_log(disagreement, by=request.user), created=True
        )

    @staticmethod
    def _refuse_if_let_go(disagreement: Disagreement) -> None:
        """A let-go client's disagreement is read-only: changing or adding to it
        answers 400 with the reason, before the request's data is looked at
        (as the pages do; the services refuse it too)."""
        if disagreement.client.status == Client.Status.LET_GO:
            raise as_api_error(DjangoValidationError(let_go_read_only(disagreement.client)))

    def partial_update(self, request: Request, pk: int) -> Response:
        disagreement = self.get_object()
        self._refuse_if_let_go(disagreement)
        changes, version, reason = _changes(
            self.validated(DisagreementUpdateSerializer, disagreement)
        )
        for field, value in changes.items():
            setattr(disagreement, field, value)
        return self.write(
            lambda: services.disagreement_save(
                disagreement, by=request.user, reason=reason, expected_version=version
            )
        )

    @extend_schema(
        summary="Record the client's decision",
        description="The decision as a whole: fields left out are recorded empty. "
        "The acknowledgment of risk applies only when the client proceeded against "
        "advice, and then needs the date, how, and the client's own words. "
        "A let-go client's disagreements are read-only (400).",
        request=DecisionSerializer,
        responses={
            200: DisagreementSerializer,
            **errors(400, 401, 403, 404),
            **conflict(DisagreementSerializer, "Disagreement"),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def decision(self, request: Request, pk: int) -> Response:
        disagreement = self.get_object()
        self._refuse_if_let_go(disagreement)
        data = self.validated(DecisionSerializer)
        disagreement.decision = data["decision"]
        disagreement.decided_on = data.get("decided_on")
        disagreement.risk_acknowledged = data.get("risk_acknowledged")
        disagreement.acknowledged_on = data.get("acknowledged_on")
        disagreement.acknowledgment_method = data.get("acknowledgment_method", "")
        disagreement.client_words = data.get("client_words", "")
        return self.write(
            lambda: services.disagreement_record_decision(
                disagreement, by=request.user, expected_version=data["version"]
            )
        )

    @extend_schema(
        summary="Record the outcome",
        description="Who turned out to be right, and how it went. Needs a decision first. "
        "A let-go client's disagreements are read-only (400).",
        request=OutcomeSerializer,
        responses={
            200: DisagreementSerializer,
            **errors(400, 401, 403, 404),
            **conflict(DisagreementSerializer, "Disagreement"),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def outcome(self, request: Request, pk: int) -> Response:
        disagreement = self.get_object()
        self._refuse_if_let_go(disagreement)
        data = self.validated(OutcomeSerializer)
        disagreement.verdict = data["verdict"]
        disagreement.outcome = data.get("outcome", "")
        disagreement.outcome_recorded_on = data.get("outcome_recorded_on")
        return self.write(
            lambda: services.disagreement_record_outcome(
                disagreement, by=request.user, expected_version=data["version"]
            )
        )

    @extend_schema(
        methods=["GET"],
        summary="List a disagreement's comments",
        description="Managers' review notes and the logging advisor's replies, oldest first.",
        responses={
            200: CommentSerializer(many=True),
            **errors(400, 401, 403),
            404: RECORD_LIST_404,
        },
    )
    @extend_schema(
        methods=["POST"],
        summary="Comment on a disagreement",
        description="Managers and admins comment; the advisor who logged it may reply. "
        "Others get 403. A let-go client's disagreements take no new comment (400).",
        request=CommentSerializer,
        responses={201: CommentSerializer, **errors(400, 401, 403, 404)},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        serializer_class=CommentSerializer,
    )
    def comments(self, request: Request, pk: int) -> Response:
        disagreement = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(disagreement.comments.all())
            return self.get_paginated_response(CommentSerializer(page, many=True).data)
        if not can_comment(request.user, disagreement):
            raise exceptions.PermissionDenied(
                "Managers and admins comment on disagreements; "
                "the advisor who logged one may reply."
            )
        self._refuse_if_let_go(disagreement)
        data = self.validated(CommentSerializer)
        try:
            comment = comments.comment_add(disagreement, by=request.user, body=data["body"])
        except DjangoValidationError as exc:
            raise as_api_error(exc) from None
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


# --- Let-go cases ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List let-go cases",
        description="The review queue, newest first: managers and admins only, as on the pages.",
        responses={200: LetGoCaseSerializer, **errors(400, 401, 403), 404: LIST_404},
    ),
    retrieve=extend_schema(
        summary="Get a let-go case",
        responses={200: LetGoCaseSerializer, **errors(401, 403, 404)},
    ),
)
class LetGoCaseViewSet(ScopedViewSet):
    """Proposals to let a client go, read-only. A case is visible with its client."""

    serializer_class = LetGoCaseSerializer
    filterset_class = LetGoCaseFilter
    action_permissions = {
        "list": ["accounts.review_letgo", "advisory.view_letgocase"],
        "retrieve": ["advisory.view_letgocase"],
    }

    def get_queryset(self) -> QuerySet:
        return LetGoCase.objects.visible_to(self.request.user).prefetch_related("evidence")
