from kolben import Kolben

app = Kolben("found_in_app_py_not_wsgi")
