"""refusal-v1's rules speak in the labels the screen shows: their messages,
which named stored values ("refusal_type=none allows only ..."), go, and the
text is made from the field and option labels (labelsets.schema.Rule.text).
What the rules check is unchanged."""

from __future__ import annotations

from django.db import migrations


def drop_rule_messages(apps, schema_editor):
    LabelSetVersion = apps.get_model("labelsets", "LabelSetVersion")
    for version in LabelSetVersion.objects.filter(
        label_set__name="refusal-v1", number=1
    ):
        for rule in version.schema_data.get("rules", []):
            rule.pop("message", None)
        version.save(update_fields=["schema_data"])


class Migration(migrations.Migration):
    dependencies = [("labelsets", "0003_created_at_passed_in")]

    operations = [migrations.RunPython(drop_rule_messages, migrations.RunPython.noop)]
