from django.contrib import admin

from webapp.projects.models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "overlap", "active_policy")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("annotators",)
    # The active policy changes only through a deploy.
    readonly_fields = ("active_policy",)
