"""The estate pages' forms: the list filters, the scan button, the wizard's value re-entry (CSV) and
the sync conversion. The per-variable mapping of the wizard is a table of inputs named by row
number (``estate.ui.views_import.mapping_from_post``), not a Django form: its rows are the group's."""

from __future__ import annotations

from typing import Any

from django import forms

from estate.models import FindingKind, ResourceKind, Severity

MAX_CSV_BYTES = 256 * 1024


class EstateFilterForm(forms.Form):
    """The estate list's filters; an unknown choice is a field error, the other filters still apply."""

    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *ResourceKind.choices])
    project = forms.CharField(required=False, max_length=256)
    finding = forms.ChoiceField(required=False, choices=[("", "Any or none"), *FindingKind.choices])
    severity = forms.ChoiceField(required=False, choices=[("", "Any"), *Severity.choices])
    q = forms.CharField(required=False, max_length=200, strip=True)
    connection = forms.CharField(required=False, max_length=120)
    removed = forms.BooleanField(required=False)

    def filters(self) -> dict[str, Any]:
        """The valid filters as keyword arguments of ``resource_list`` (invalid ones dropped);
        ``severity`` (resources with an open finding of that severity) is applied by the view."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "kind": data.get("kind") or None,
            "project": data.get("project") or None,
            "finding": data.get("finding") or None,
            "q": data.get("q") or None,
            "include_removed": bool(data.get("removed")),
        }

    def severity_filter(self) -> str | None:
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get("severity") or None


class ScanStartForm(forms.Form):
    connection = forms.CharField(max_length=120, error_messages={"required": "Choose an Azure DevOps connection"})


class ValuesCsvForm(forms.Form):
    """Values for the variables Azure DevOps would not return: pasted text or an uploaded file of
    ``name,value`` lines (the import service parses it)."""

    csv_text = forms.CharField(required=False, widget=forms.Textarea, strip=False)
    csv_file = forms.FileField(required=False)

    def text(self) -> str:
        upload = self.cleaned_data.get("csv_file")
        if upload is not None:
            if upload.size > MAX_CSV_BYTES:
                raise forms.ValidationError("The file is larger than 256 KiB")
            try:
                return upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text") from None
        return self.cleaned_data.get("csv_text") or ""


class ConvertToSyncForm(forms.Form):
    sync_name = forms.CharField(required=False, max_length=120, strip=True)
    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": "Tick the box to confirm Strongroom will own this group's variables"},
    )
