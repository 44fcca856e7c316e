"""Dataset snapshots are files under ARTIFACT_ROOT recorded on their TrainingRound; no tables yet."""
