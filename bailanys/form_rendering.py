"""How every form's fields render: the first field in error takes the focus.

A screen reader then reads that field and its error as soon as the page with errors
shows, with JavaScript (htmx focuses `autofocus` in what it swaps in) or without (the
browser does it on load). Django names a field's error as its description
(`aria-describedby="<id>_error"`); our field templates give the error that id.
"""

from django.forms import BoundField
from django.forms.renderers import DjangoTemplates


class FocusFirstError(BoundField):
    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.form.is_bound and self.errors:
            first = next((name for name in self.form.fields if name in self.form.errors), None)
            if first == self.name:
                attrs["autofocus"] = True
        return attrs


class Renderer(DjangoTemplates):
    bound_field_class = FocusFirstError
