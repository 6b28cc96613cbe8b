import os


def create_app():
    return os.environ["KOLBEN_TEST_UNSET_DATABASE_URL"]
