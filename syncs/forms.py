"""Forms of the syncs app: one per action."""

from django import forms
from django.conf import settings

from .ingest import sync_ingest_upload


class PackageUploadForm(forms.Form):
    """One OneRoster 1.1 CSV package as a zip file; ``check_only`` validates and diffs without applying."""

    package = forms.FileField(
        label="OneRoster 1.1 CSV package (.zip)",
        help_text="A zip holding manifest.csv and the roster files, as your SIS exports it.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    check_only = forms.BooleanField(
        required=False, label="Only check it (validate and show the changes; apply nothing)"
    )

    def clean_package(self):
        upload = self.cleaned_data["package"]
        limit = settings.BTS_PACKAGE_MAX_COMPRESSED
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; packages up to {limit:,} bytes are accepted. Split it or ask "
                "your partner success manager for the SFTP inbox."
            )
        if not upload.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip file (the CSV files of one OneRoster export, zipped).")
        return upload

    def ingest(self, *, partner, by):
        """Send the valid form's package through the pipeline for ``partner`` (or only check it):
        what the portal's and the admin's upload pages both do. Returns the ``IngestResult``."""
        return sync_ingest_upload(
            partner=partner, upload=self.cleaned_data["package"], by=by, dry_run=self.cleaned_data["check_only"]
        )
