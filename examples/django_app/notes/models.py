from django.db import models


class Note(models.Model):
    """What POST /notes writes and GET /notes/<id> reads back, from any app host."""

    text = models.CharField(max_length=200)
    host = models.CharField(max_length=255, help_text="The app host that wrote it.")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.text


class Tick(models.Model):
    """One row per beat interval, written by the Celery task notes.tasks.tick."""

    slot = models.DateTimeField(unique=True, help_text="Start of the interval.")
    host = models.CharField(max_length=255, help_text="The worker host that ran the task first.")
    runs = models.PositiveIntegerField(
        default=1, help_text="Times the task ran for this interval: above 1, more than one beat runs."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-slot"]

    def __str__(self):
        return self.slot.isoformat()
