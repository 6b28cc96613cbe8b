from kolben import Kolben

application = Kolben("application_attr")
