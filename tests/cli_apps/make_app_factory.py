from kolben import Kolben


def make_app():
    return Kolben("made_by_make_app")
