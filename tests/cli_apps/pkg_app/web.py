from kolben import Kolben

app = Kolben("pkg_app.web")
