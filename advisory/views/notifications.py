"""The notification list (the bell), preferences, and the unsubscribe link
from e-mails, which works without logging in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.navigation import local_url
from advisory.models import Delivery, Notification, NotificationKind
from advisory.notifications import preferences
from advisory.views.common import paginate


@never_cache
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(recipient=request.user).select_related("client")
    page = paginate(request, mine)
    return render(
        request,
        "advisory/notification_list.html",
        {"page_obj": page, "unread_count": mine.unread().count()},
    )


def _back_to_list(request: HttpRequest) -> HttpResponse:
    # Back to the page of the list the button was on.
    target = local_url(request, request.POST.get("next", ""))
    return HttpResponseRedirect(target) if target else redirect("notification-list")


@require_POST
@login_required
def notification_mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Someone else's notification answers 404, like any record outside one's scope."""
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    if notification.read_at is None:
        Notification.objects.filter(pk=pk, read_at__isnull=True).update(read_at=timezone.now())
    return _back_to_list(request)


@require_POST
@login_required
def notification_mark_all_read(request: HttpRequest) -> HttpResponse:
    count = (
        Notification.objects.filter(recipient=request.user).unread().update(read_at=timezone.now())
    )
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return _back_to_list(request)


class PreferencesForm(forms.Form):
    """One radio group per kind of notification the user can receive."""

    def __init__(self, *args, kinds: list[str], initial: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in kinds:
            self.fields[kind] = forms.ChoiceField(
                label=NotificationKind(kind).label,
                choices=Delivery.choices,
                initial=initial[kind],
                widget=forms.RadioSelect,
            )


@never_cache
@login_required
def notification_preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    current = preferences.preferences_for(user)
    form = PreferencesForm(request.POST or None, kinds=preferences.kinds_for(user), initial=current)
    if request.method == "POST" and form.is_valid():
        for kind, delivery in form.cleaned_data.items():
            if delivery != current[kind]:
                preferences.preference_set(user=user, kind=kind, delivery=delivery)
        messages.success(request, "Your notification choices are saved.")
        return redirect("notification-preferences")
    return render(
        request,
        "advisory/notification_preferences.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


# The token is the credential: mail clients' one-click unsubscribe (RFC 8058)
# POSTs without a CSRF token, and a forged POST could do no more than the link.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def notification_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners only GET), POST switches that
    one kind to "in Candor only" for that one person."""
    try:
        user, kind = preferences.read_unsubscribe_token(token)
    except preferences.BadUnsubscribeToken:
        return render(request, "advisory/notification_unsubscribe_invalid.html", status=400)
    context = {"person": user, "kind": NotificationKind(kind), "done": False}
    if request.method == "POST":
        preferences.preference_set(user=user, kind=kind, delivery=Delivery.IN_APP)
        context["done"] = True
    return render(request, "advisory/notification_unsubscribe.html", context)
