"""One module per stage; importing the package registers every task."""

from workers.tasks import deploy, evaluate, generate, policy, reward, snapshot  # noqa: F401
