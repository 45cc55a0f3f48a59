"""What the submissions app announces to the apps above it, which subscribe in their ``AppConfig.ready``.

Apps depend one way (accounts ← submissions ← evaluation ← reviews): submissions never imports the apps that act
on its events.
"""

from django.dispatch import Signal

# Sent with ``version`` inside the transaction that creates a SubmissionVersion, so whatever a receiver writes
# commits or rolls back with the version; work outside the database (sending tasks) goes in transaction.on_commit.
version_created = Signal()
