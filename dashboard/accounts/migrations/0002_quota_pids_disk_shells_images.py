from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="quota", name="pids_limit", field=models.PositiveIntegerField(default=256)),
        migrations.AddField(model_name="quota", name="disk_bytes", field=models.PositiveBigIntegerField(default=1073741824)),
        migrations.AddField(model_name="quota", name="max_shells", field=models.PositiveIntegerField(default=4)),
        migrations.AddField(model_name="quota", name="max_images", field=models.PositiveIntegerField(default=5)),
        migrations.AddField(model_name="quota", name="max_image_bytes", field=models.PositiveBigIntegerField(default=4294967296)),
    ]
