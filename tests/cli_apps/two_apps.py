from kolben import Kolben

one = Kolben("one")
two = Kolben("two")
