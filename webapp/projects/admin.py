from django.contrib import admin

from webapp.projects.models import Membership, Project


class MembershipInline(admin.TabularInline):
    """Members and their roles, edited on the project (staff: no last-admin rule here)."""

    model = Membership
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "overlap", "active_policy")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    # The active policy changes only through a deploy.
    readonly_fields = ("active_policy",)
