"""Ids derived from names are uuid5's, bit for bit: the log already holds them."""

from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from domain.name_ids import NameIds


@given(namespace=st.uuids(), name=st.text())
def test_an_id_of_a_name_is_the_standard_librarys_uuid5(namespace: UUID, name: str) -> None:
    assert NameIds(namespace).id_of(name) == uuid5(namespace, name)
