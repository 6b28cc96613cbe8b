from kolben import Kolben


def create_app(env):
    return Kolben(f"needs_{env}")
