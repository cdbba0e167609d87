from django.db import models
from simple_history.models import HistoricalRecords


class Note(models.Model):
    # 0001: title, body, size. 0002 added tag; 0003 removed size; 0004 renamed body to text.
    title = models.CharField(max_length=100)
    text = models.TextField()
    tag = models.CharField(max_length=20, default="")

    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.title
