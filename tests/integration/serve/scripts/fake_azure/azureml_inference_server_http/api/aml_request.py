from flask import Request

_rawHttpRequested = False


def rawhttp(func):
    global _rawHttpRequested
    _rawHttpRequested = True
    return func


class AMLRequest(Request):
    pass
