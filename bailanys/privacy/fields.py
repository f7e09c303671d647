"""Model fields that keep personal data encrypted in the database.

A model holding personal data subclasses SealedModel and declares its personal
columns as SealedTextField. Code reads and assigns plain text as usual; the
database only ever sees ciphertext. Rules that follow from that:

- never filter, order or `.update()` on a sealed field (the database holds
  random bytes); look up by a blind index instead;
- `values()`/`values_list()` on a sealed field return ciphertext: load the
  model instead.
"""

import uuid

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from bailanys.privacy import crypto


class Ciphertext(str):
    """A value as it came from the database, not yet decrypted."""


class SealedAttribute(DeferredAttribute):
    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)
        if instance is not None and isinstance(value, Ciphertext):
            value = crypto.open_text(
                instance.plain_data_key(), value, aad=field_aad(instance, self.field)
            )
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        # Defining __set__ makes this a data descriptor, so reads always come
        # through __get__ even though the value lives in the instance dict.
        instance.__dict__[self.field.attname] = value


def field_aad(instance: models.Model, field: models.Field) -> str:
    return f"{instance._meta.db_table}:{field.column}:{instance.uid}"


class SealedTextField(models.TextField):
    """Text encrypted with the row's data key (AES-256-GCM, bound to table, column, row)."""

    descriptor_class = SealedAttribute

    def from_db_value(self, value, expression, connection):
        return None if value is None else Ciphertext(value)

    def pre_save(self, model_instance, add):
        raw = model_instance.__dict__.get(self.attname)
        if raw is None or isinstance(raw, Ciphertext):
            return raw  # unchanged since it was loaded: it is still valid for this row
        return crypto.seal_text(
            model_instance.plain_data_key(), str(raw), aad=field_aad(model_instance, self)
        )

    def value_to_string(self, obj):
        return ""  # serialisers (dumpdata, admin history) never see the plain text


class DataKeyField(models.TextField):
    """The row's data key, wrapped by a master key. Made on first save."""

    def pre_save(self, model_instance, add):
        model_instance.plain_data_key()
        return model_instance.__dict__[self.attname]


class SealedModel(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    data_key = DataKeyField(editable=False, blank=True)

    class Meta:
        abstract = True

    def key_aad(self) -> str:
        return f"{self._meta.db_table}:{self.uid}"

    def plain_data_key(self) -> bytes:
        cached = self.__dict__.get("_plain_data_key")
        if cached is None:
            if self.data_key:
                cached = crypto.data_key_unwrap(self.data_key, aad=self.key_aad())
            else:
                cached = crypto.data_key_new()
                self.data_key = crypto.data_key_wrap(cached, aad=self.key_aad())
            self.__dict__["_plain_data_key"] = cached
        return cached


def sealed_models() -> list[type[SealedModel]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, SealedModel)]
