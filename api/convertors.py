"""Path convertors the route table uses, registered when this module is imported."""

from starlette.convertors import Convertor, register_url_convertor


class Anything(Convertor[str]):
    """A path segment or several, line feeds included: Starlette's ``path`` stops at a
    line feed, so such a user id would get a routing 404 instead of its 400."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anything", Anything())


def segments(name: str) -> str:
    """The path parameter ``name``, matching one segment or several (see Anything)."""
    return f"{{{name}:anything}}"
