from kolben import Kolben

app = Kolben("found_in_wsgi")
