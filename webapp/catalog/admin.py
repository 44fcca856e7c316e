from django.contrib import admin

from webapp.catalog.models import PolicyVersion, Prompt, Response


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "split", "source", "__str__")
    list_filter = ("project", "split")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "status", "created")
    readonly_fields = ("status",)


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("id", "prompt", "policy", "token_count", "finished")
