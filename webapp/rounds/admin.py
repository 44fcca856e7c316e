from django.contrib import admin

from webapp.rounds.models import TrainingRound


@admin.register(TrainingRound)
class TrainingRoundAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "state", "created", "finished")
    list_filter = ("project", "state")
    # State changes go through rounds.state_machine only.
    readonly_fields = ("state", "dataset_path", "dataset_sha256", "dataset_counts", "policy_in", "policy_out")
