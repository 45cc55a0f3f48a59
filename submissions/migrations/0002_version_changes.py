from django.db import migrations, models

# The answers as they were when this migration was written (a migration must not follow later code).
ANSWERS = (
    "task_name",
    "authors",
    "description",
    "importance",
    "expected_inverse_scaling",
    "data_generation",
    "annotator_expertise",
    "license",
)


def describe_existing_versions(apps, schema_editor):
    """Give the versions stored before this migration what changed from the one before them."""
    SubmissionVersion = apps.get_model("submissions", "SubmissionVersion")
    previous = None
    changed = []
    for version in SubmissionVersion.objects.order_by("submission_id", "number").iterator():
        if previous is None or previous.submission_id != version.submission_id:
            version.changes = {"first": True}
        else:
            version.changes = {}
            if version.sha256 != previous.sha256:
                version.changes["file"] = True
            if version.metric != previous.metric:
                version.changes["metric"] = [previous.metric, version.metric]
            answers = [f for f in ANSWERS if getattr(version, f) != getattr(previous, f)]
            if answers:
                version.changes["answers"] = answers
        changed.append(version)
        previous = version
    SubmissionVersion.objects.bulk_update(changed, ["changes"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="submissionversion",
            name="changes",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(describe_existing_versions, migrations.RunPython.noop),
    ]
