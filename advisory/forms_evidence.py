from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from advisory.evidence import ACCEPT, MAX_EVIDENCE_BYTES, evidence_content_type, format_size
from advisory.models import SHORT_TEXT


class EvidenceForm(forms.Form):
    """Attach a file to a disagreement; evidence_attach() does the work."""

    file = forms.FileField(
        label="Evidence file",
        help_text=(
            "PDF, PNG, JPEG, e-mail (.eml, .msg) or plain text (.txt); "
            f"at most {format_size(MAX_EVIDENCE_BYTES)}."
        ),
        error_messages={"empty": "The file is empty."},
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )
    description = forms.CharField(
        max_length=SHORT_TEXT,
        required=False,
        help_text="Optional: what the file shows, e.g. “Client's e-mail declining the count”.",
    )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        # Checked here too so that the error shows next to the field.
        evidence_content_type(upload)
        return upload
