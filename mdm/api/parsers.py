import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from mdm.lib import jsonsafe


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, refusing what Python's json accepts but nothing after it should see:
    NaN, Infinity and numbers that overflow to it (`1e400`), and nesting deeper than
    jsonsafe.MAX_BODY_DEPTH (which would make every recursive walk crash). Each is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return jsonsafe.loads(text)
        except (jsonsafe.UnsafeJSON, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
