"""Path convertors the route table uses, registered when this module is imported."""

from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import Scope


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


def matches_slashes(convertor: Convertor[object]) -> bool:
    return isinstance(convertor, Anything)


def sent_path_ends_with(scope: Scope, tail: str) -> bool:
    """Whether the path, as the client sent it, ends with the segments of ``tail``
    (``"/sessions"``). Starlette routes on the decoded path, where ``a%2Fsessions``
    and ``a/sessions`` are one string; in the sent one (``raw_path``) an encoded slash
    is part of a segment, and only a sent slash separates segments. Each sent segment
    is compared decoded, so ``%73essions`` is still ``sessions``."""
    raw = scope.get("raw_path")
    if raw is None:
        return True  # no sent path to tell them apart: the decoded one is all there is
    wanted = tail.split("/")[1:]
    sent = raw.decode("latin-1").split("/")[-len(wanted) :]
    return [unquote(segment) for segment in sent] == wanted


def sent_path_ends_in_slash(scope: Scope) -> bool:
    """Whether the path, as the client sent it, ends with a slash of its own (not
    ``%2F``): ``/users/bob/`` names no user, as ``/jobs/`` names no listing."""
    raw = scope.get("raw_path")
    sent: str = scope["path"] if raw is None else raw.decode("latin-1")
    return sent.endswith("/")
