def create_app():
    settings = {}
    return settings["DATABASE_URL"]
