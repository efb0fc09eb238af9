from django.contrib import admin
from django.urls import path
from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("notes", views.create_note, name="create-note"),
    path("notes/<int:pk>", views.note, name="note"),
    path("ticks", views.ticks, name="ticks"),
    path("admin/", admin.site.urls),
]
