from django.db import migrations, models

CHOICES = [("auto", "own id range"), ("host", "host's ids")]


class Migration(migrations.Migration):
    dependencies = [
        ("containers", "0003_disk_bytes"),
    ]

    # Containers made before user namespaces keep the host's ids (their layers'
    # files are the host root's, as the runtime's older records say); new ones get their own.
    operations = [
        migrations.AddField(
            model_name="container",
            name="userns",
            field=models.CharField(choices=CHOICES, default="host", max_length=4),
        ),
        migrations.AlterField(
            model_name="container",
            name="userns",
            field=models.CharField(choices=CHOICES, default="auto", max_length=4),
        ),
    ]
