from kolben import Kolben


def create_app():
    return Kolben("found_in_app_py")
