"""HH-RLHF imports stored the data set's own preference label (chosen or
rejected) as metadata "hh_variant", where annotators saw it; the importer now
writes "_hh_variant", hidden while labelling. Rows already stored follow."""

from django.db import migrations

BATCH = 2000


def rename(apps, old, new):
    Transcript = apps.get_model("annotate", "Transcript")
    rows = Transcript.objects.filter(metadata__has_key=old).only("metadata")
    batch = []
    for transcript in rows.iterator(chunk_size=BATCH):
        transcript.metadata[new] = transcript.metadata.pop(old)
        batch.append(transcript)
    Transcript.objects.bulk_update(batch, ["metadata"], batch_size=BATCH)


def hide(apps, schema_editor):
    rename(apps, "hh_variant", "_hh_variant")


def show(apps, schema_editor):
    rename(apps, "_hh_variant", "hh_variant")


class Migration(migrations.Migration):
    dependencies = [("annotate", "0011_item_invariants")]

    operations = [migrations.RunPython(hide, show)]
