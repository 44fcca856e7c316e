"""The round page answers "did it learn?": verdict, headline numbers, samples as escaped text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests import learning_factories as learned
from tests import platform_factories as factories
from webapp.catalog.models import PolicyVersion
from webapp.rounds.models import TrainingRound

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """Elements by class and tag as a browser would build them, with the text inside `.plain`."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.plain: list[str] = []
        self._depth = 0  # > 0 while inside a .plain element
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if self._depth:
            self._depth += 1
        elif "plain" in (attrs.get("class") or "").split():
            self._depth = 1
            self.plain.append("")

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.plain[-1] += data


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member(db):
    return factories.make_user("alice")


@pytest.fixture
def project(member):
    return factories.make_project(annotators=[member])


@pytest.fixture
def v0(project):
    return factories.make_policy(project, 0, status=PolicyVersion.Status.RETIRED)


def page_for(client, user, training_round: TrainingRound, name: str = "rounds:detail") -> str:
    client.force_login(user)
    response = client.get(
        reverse(name, kwargs={"slug": training_round.project.slug, "number": training_round.number})
    )
    assert response.status_code == 200
    return response.content.decode()


def test_clear_win_shows_verdict_and_every_headline_number(client, member, project, v0):
    metrics = {
        "reward": learned.reward(accuracy=0.68, pairs_eval=26),
        "ppo": learned.ppo(),
        "evaluation": learned.evaluation(
            win_rate=0.9,
            prompts=24,
            kl=0.412,
            old_length=38.4,
            new_length=31.6,
            old_eos_fraction=0.5,
            new_eos_fraction=0.9,
            win_rate_length=0.25,
        ),
    }
    _, training_round = learned.trained_version(project, 1, v0, metrics)
    html = page_for(client, member, training_round)
    assert "Did it learn?" in html
    assert "v1 beats v0 on 90% of 24 held-out prompts under this round&#x27;s reward model." in html
    assert "95% binomial (Wilson) interval for 24 prompts" in html
    assert "0.412" in html and "nats per response" in html
    assert "38.4 → 31.6" in html  # parent first
    assert "50% → 90%" in html
    assert "68%" in html and "on 26 held-out pairs" in html
    assert "-0.21 → 0.43" in html  # PPO reward start -> end
    assert "win rate by length" in html and "25%" in html
    assert 'class="verdict verdict-better"' in html


def test_win_inside_the_noise_band_says_no_measurable_change(client, member, project, v0):
    metrics = {"reward": learned.reward(), "evaluation": learned.evaluation(win_rate=0.6, prompts=24)}
    _, training_round = learned.trained_version(project, 1, v0, metrics)
    html = page_for(client, member, training_round)
    assert "No measurable change: v1 wins 60% of 24 held-out prompts" in html
    assert "beats" not in html
    assert 'class="verdict verdict-same"' in html


def test_panel_waits_for_the_evaluate_stage(client, member, project, v0):
    _, training_round = learned.trained_version(
        project, 1, v0, {"reward": learned.reward()}, status=PolicyVersion.Status.READY, state="policy"
    )
    html = page_for(client, member, training_round)
    assert "The verdict appears here once the evaluate stage has compared v1 with v0" in html
    assert 'data-testid="verdict"' not in html
    assert "Reward model" in html and "eval_accuracy" in html  # stage numbers already show


def test_failed_round_says_there_is_nothing_to_compare(client, member, project, v0):
    training_round = TrainingRound.objects.create(
        project=project, number=1, state="failed", policy_in=v0, metrics={}, error="CUDA out of memory"
    )
    html = page_for(client, member, training_round)
    assert "ended before its new policy was evaluated" in html
    assert 'data-testid="verdict"' not in html


def test_sample_answers_are_escaped_text_with_their_line_breaks(client, member, project, v0):
    hostile_new = "<script>alert('new')</script>\nsecond line"
    hostile_old = '<img src=x onerror="alert(1)">'
    samples = [{"prompt": "<b>bold?</b>", "new": hostile_new, "old": hostile_old}]
    _, training_round = learned.trained_version(
        project, 1, v0, {"evaluation": learned.evaluation(samples=samples)}
    )
    html = page_for(client, member, training_round)
    page = Page(html)
    assert page.plain == ["<b>bold?</b>", hostile_old, hostile_new]  # prompt, parent, new: text as written
    assert not [a for tag, a in page.tags if tag == "script" and "src" not in a]  # only round.js
    assert not [a for tag, a in page.tags if tag == "img"]
    assert not [a for tag, a in page.tags if tag == "b"]
    assert "&lt;script&gt;alert(&#x27;new&#x27;)&lt;/script&gt;\nsecond line" in html


def test_unknown_sections_show_as_key_values(client, member, project, v0):
    metrics = {
        "dpo": {"train_seconds": 12.5, "pairs": 230, "nested": {"x": 1}},
        "evaluation": learned.evaluation(),
    }
    _, training_round = learned.trained_version(project, 1, v0, metrics)
    html = page_for(client, member, training_round)
    assert "<caption>DPO</caption>" in html
    assert "train_seconds" in html and "12.5" in html and "230" in html
    assert "nested" not in html.split('id="round-metrics"')[0]  # objects stay in the raw JSON only


def test_summary_block_alone_carries_the_key_the_page_script_compares(client, member, project, v0):
    _, training_round = learned.trained_version(
        project, 1, v0, {"reward": learned.reward()}, state="evaluate"
    )
    client.force_login(member)
    progress = client.get(reverse("rounds:progress", kwargs={"slug": project.slug, "number": 1})).json()
    html = page_for(client, member, training_round, "rounds:summary")
    key = ",".join(sorted(progress["metrics"])) + "|" + progress["state"]  # what round.js computes
    assert f'data-key="{key}"' in html
    assert "<html" not in html  # a fragment, not a page

    TrainingRound.objects.filter(pk=training_round.pk).update(
        state="done", metrics={"reward": learned.reward(), "evaluation": learned.evaluation(win_rate=0.9)}
    )
    html = page_for(client, member, training_round, "rounds:summary")
    assert 'data-key="evaluation,reward|done"' in html
    assert "v1 beats v0 on 90%" in html


@pytest.mark.parametrize("name", ["rounds:detail", "rounds:summary"])
def test_non_members_are_refused_and_unknown_projects_are_404(client, project, v0, name):
    learned.trained_version(project, 1, v0)
    url = reverse(name, kwargs={"slug": project.slug, "number": 1})
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(factories.make_user("mallory"))
    assert client.get(url).status_code == 403
    client.force_login(factories.make_user("root", staff=True))
    assert client.get(url).status_code == 200
    assert client.get(reverse(name, kwargs={"slug": "nope", "number": 1})).status_code == 404
    assert client.get(reverse(name, kwargs={"slug": project.slug, "number": 9})).status_code == 404
