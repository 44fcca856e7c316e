"""One module per stage (and one for web export jobs); importing the package registers every task."""

from workers.tasks import deploy, evaluate, export, generate, policy, reward, sft, snapshot  # noqa: F401
