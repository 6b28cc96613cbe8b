from kolben import Kolben

website = Kolben("single_instance")
