# Indexes for the managers' workspace (issue 11): the annotator table's last
# active and skip reasons, and transcripts by external id.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0018_review_claims"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The composite index below leads with annotator: the FK's own index
        # would only cost a write per submit.
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(
                fields=["annotator", "created_at"], name="annotation_annotator_time_idx"
            ),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="annotator",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="annotations",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(
                    ("status", "skipped"),
                    models.Q(("skip_reason", ""), _negated=True),
                ),
                fields=["project", "annotator", "skip_reason"],
                name="assignment_skip_reason_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transcript",
            index=models.Index(
                fields=["project", "external_id"], name="transcript_external_id_idx"
            ),
        ),
    ]
