"""The queue's invariants in the database: slots_left never below 0, and a
disagreement score between 0 and 1. Rows outside them (none should be; a
score can only have come out a hair above 1 in floating point) are brought
inside first, so the constraints can be added."""

from django.db import migrations, models


def clamp(apps, schema_editor):
    Item = apps.get_model("annotate", "Item")
    Item.objects.filter(slots_left__lt=0).update(slots_left=0)
    Item.objects.filter(disagreement__gt=1.0).update(disagreement=1.0)
    Item.objects.filter(disagreement__lt=0.0).update(disagreement=0.0)


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0010_transcript_identity_keys"),
    ]

    operations = [
        migrations.RunPython(clamp, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="item",
            constraint=models.CheckConstraint(
                condition=models.Q(("slots_left__gte", 0)),
                name="item_slots_left_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="item",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("disagreement__isnull", True),
                    models.Q(("disagreement__gte", 0.0), ("disagreement__lte", 1.0)),
                    _connector="OR",
                ),
                name="item_disagreement_range",
            ),
        ),
    ]
