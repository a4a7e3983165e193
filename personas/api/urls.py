from django.urls import path

from personas.api import views

urlpatterns = [
    path("personas/", views.PersonaListApi.as_view(), name="persona-list"),
    path("personas/<uuid:pk>/", views.PersonaDetailApi.as_view(), name="persona-detail"),
    path("personas/<uuid:pk>/assign/", views.PersonaAssignApi.as_view(), name="persona-assign"),
    path("personas/<uuid:pk>/policy-preview/", views.PersonaPolicyPreviewApi.as_view(), name="persona-policy-preview"),
]
