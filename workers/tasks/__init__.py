"""One module per stage (and one each for web export and import jobs); importing the package
registers every task."""

from workers.tasks import deploy, evaluate, export, generate, imports, policy, reward, sft, snapshot  # noqa: F401
