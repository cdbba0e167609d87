from __future__ import annotations

from django.urls import path

from advisory import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("clients/", views.client_list, name="client-list"),
    path("disagreements/", views.disagreement_list, name="disagreement-list"),
    path("disagreements/new/", views.disagreement_create, name="disagreement-create"),
    path("health/", views.health_board, name="health-board"),
    path("let-go/", views.letgo_list, name="letgo-list"),
]
