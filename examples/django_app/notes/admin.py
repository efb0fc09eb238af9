from django.contrib import admin

from .models import Note, Tick


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["text", "host", "created"]
    search_fields = ["text"]


@admin.register(Tick)
class TickAdmin(admin.ModelAdmin):
    list_display = ["slot", "host", "runs", "created"]
    readonly_fields = ["slot", "host", "runs", "created"]
